"""flash.auth.BasicAuth: dash-auth's BasicAuth arguments, on Quart (in-process; the real-server
test is in tests/integration/test_migrating.py)."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from quart import session

from flash import Flash, Input, Output, dcc, html
from flash.auth import BasicAuth, add_public_routes


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


CALLBACK = {
    "output": "out.children",
    "outputs": {"id": "out", "property": "children"},
    "inputs": [{"id": "inp", "property": "value", "value": "a"}],
    "changedPropIds": ["inp.value"],
}


def _app(name: str) -> Flash:
    app = Flash(name)
    app.layout = html.Div([dcc.Input(id="inp", value="a"), html.Div(id="out")])

    @app.callback(Output("out", "children"), Input("inp", "value"))
    async def echo(value: str) -> str:
        return f"echo {value}"

    return app


def _requests(app: Flash, *calls: tuple[str, str, dict[str, str], Any]) -> list[tuple[int, str]]:
    async def go() -> list[tuple[int, str]]:
        answers = []
        async with app.server.test_app() as test_app:
            client = test_app.test_client()
            for method, path, headers, body in calls:
                response = await client.open(path, method=method, headers=headers, json=body)
                answers.append((response.status_code, await response.get_data(as_text=True)))
        return answers

    return asyncio.run(go())


def test_every_route_asks_for_credentials_except_dashs_public_ones() -> None:
    app = _app("auth_basic")
    BasicAuth(app, {"alice": "s3cret"})
    good = _basic("alice", "s3cret")
    answers = _requests(
        app,
        ("GET", "/", {}, None),
        ("GET", "/", _basic("alice", "wrong"), None),
        ("GET", "/", _basic("bob", "s3cret"), None),
        ("GET", "/", {"Authorization": "Basic !!!not-base64"}, None),
        ("GET", "/", {"Authorization": "Bearer abc"}, None),
        ("POST", "/_dash-update-component", {}, CALLBACK),
        ("GET", "/", good, None),
        ("POST", "/_dash-update-component", good, CALLBACK),
        ("GET", "/_dash-layout", {}, None),
        ("GET", "/_dash-dependencies", {}, None),
    )
    for status, text in answers[:6]:
        assert status == 401 and text == "Login Required", (status, text)
    assert answers[6][0] == 200 and "react-entry-point" in answers[6][1]
    assert answers[7][0] == 200 and "echo a" in answers[7][1]
    assert answers[8][0] == 200 and answers[9][0] == 200  # Dash's layout and dependencies are public


def test_the_401_asks_the_browser_for_basic_credentials() -> None:
    app = _app("auth_header")
    BasicAuth(app, [("alice", "pw")])

    async def go() -> Any:
        async with app.server.test_app() as test_app:
            return await test_app.test_client().get("/")

    response = asyncio.run(go())
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")


@pytest.mark.parametrize("asynchronous", [False, True])
def test_auth_func_sync_or_async(asynchronous: bool) -> None:
    app = _app(f"auth_func_{asynchronous}")
    seen: list[tuple[str, str]] = []

    def check(user: str, password: str) -> bool:
        seen.append((user, password))
        return password == user[::-1]

    async def acheck(user: str, password: str) -> bool:
        return check(user, password)

    BasicAuth(app, auth_func=acheck if asynchronous else check)
    answers = _requests(app, ("GET", "/", _basic("abc", "cba"), None), ("GET", "/", _basic("abc", "abc"), None))
    assert [status for status, _ in answers] == [200, 401]
    assert seen == [("abc", "cba"), ("abc", "abc")]


def test_a_failing_auth_func_refuses() -> None:
    app = _app("auth_func_fails")

    def broken(user: str, password: str) -> bool:
        raise ValueError("database down")

    BasicAuth(app, auth_func=broken)
    assert _requests(app, ("GET", "/", _basic("a", "b"), None))[0][0] == 401


def test_public_routes_and_routing_callbacks_to_them() -> None:
    app = Flash("auth_public")
    app.layout = html.Div([dcc.Location(id="url"), html.Div(id="page")])

    @app.callback(Output("page", "children"), Input("url", "pathname"))
    def route(pathname: str) -> str:
        return f"page {pathname}"

    BasicAuth(app, {"alice": "pw"}, public_routes=["/about"])
    add_public_routes(app, ["/docs/<path:rest>"])

    def routing(pathname: str) -> dict[str, Any]:
        return {
            "output": "page.children",
            "outputs": {"id": "page", "property": "children"},
            "inputs": [{"id": "url", "property": "pathname", "value": pathname}],
            "changedPropIds": ["url.pathname"],
        }

    answers = _requests(
        app,
        ("GET", "/about", {}, None),
        ("GET", "/docs/a/b", {}, None),
        ("GET", "/private", {}, None),
        ("POST", "/_dash-update-component", {}, routing("/about")),
        ("POST", "/_dash-update-component", {}, routing("/private")),
    )
    assert [status for status, _ in answers] == [200, 200, 401, 200, 401]
    assert (
        json.loads(answers[3][1])["response"]["page"]["children"] == "page /about"
    )  # the body read by the check still reached the callback


def test_user_groups_go_to_the_session_with_a_secret_key() -> None:
    app = _app("auth_groups")

    @app.server.route("/me")
    async def me() -> Any:
        return dict(session.get("user") or {})

    BasicAuth(app, {"alice": "pw"}, user_groups={"alice": ["admin"]}, secret_key="k" * 32)
    status, text = _requests(app, ("GET", "/me", _basic("alice", "pw"), None))[0]
    assert status == 200 and '"groups":["admin"]' in text.replace(" ", "") and "alice" in text


def test_arguments_are_checked_as_dash_auth_checks_them() -> None:
    app = _app("auth_args")
    with pytest.raises(ValueError, match="either auth_func or username_password_list"):
        BasicAuth(app, {"a": "b"}, auth_func=lambda u, p: True)
    with pytest.raises(ValueError, match="needs a username/password map"):
        BasicAuth(app)
