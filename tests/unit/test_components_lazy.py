"""The lazy-load endpoint: `POST <prefix>_flash/lazy/<name>` on Quart's test client."""

import asyncio
import json

import numpy as np
import pytest
from dash.exceptions import PreventUpdate

from flash import Flash, dcc, html
from flash.components import LazyLoad, LazyLoadError, install, lazy_loader
from flash.components.lazy import MAX_ARGS_BYTES
from tests.conftest import run

SECRET = "request-marker-7f3a"  # sent in bad requests; never in an answer
DEEP: list = [SECRET]
for _ in range(40):
    DEEP = [DEEP]


@lazy_loader(name="unit-panel")
async def panel(region: str, year: int = 2024):
    return html.Div([html.H3(f"{region} {year}"), dcc.Graph(id="g", figure={"data": [{"y": np.arange(3)}]})])


@lazy_loader(name="unit-sync")
def sync_panel(n: int):
    return [html.Span(str(i)) for i in range(n)]


@lazy_loader(name="unit-refuses")
async def refuses():
    raise LazyLoadError("The archive is offline.")


@lazy_loader(name="unit-crashes")
async def crashes():
    raise RuntimeError("secret internals")


@lazy_loader(name="unit-prevents")
async def prevents():
    raise PreventUpdate


@lazy_loader(name="unit-not-a-layout")
async def not_a_layout():
    return object()


def make_app(**kwargs):
    app = Flash(__name__, **kwargs)
    app.layout = html.Div([LazyLoad(id="l", load=panel, args={"region": "n"})])
    return app


async def post(client, name, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await client.post(f"/_flash/lazy/{name}", data=data, headers={"Content-Type": content_type})
    return response.status_code, (await response.get_data()).decode()


def call(app, name, body, **kwargs):
    async def go():
        return await post(app.server.test_client(), name, body, **kwargs)

    return run(go())


def test_a_loader_answers_its_layout_as_dash_json():
    status, body = call(make_app(), "unit-panel", {"args": {"region": "north", "year": 2025}})
    assert status == 200
    layout = json.loads(body)["layout"]
    assert layout["type"] == "Div" and layout["props"]["children"][0]["props"]["children"] == "north 2025"
    graph = layout["props"]["children"][1]
    assert graph["props"]["figure"]["data"][0]["y"] == [0, 1, 2]  # numpy, by Dash's JSON rules


def test_a_sync_loader_runs_and_a_lazyloaderror_is_an_answer():
    status, body = call(make_app(), "unit-sync", {"args": {"n": 2}})
    assert status == 200 and [c["props"]["children"] for c in json.loads(body)["layout"]] == ["0", "1"]
    status, body = call(make_app(), "unit-refuses", {})
    assert status == 200 and json.loads(body) == {"error": "The archive is offline."}


def test_prevent_update_answers_204():
    assert call(make_app(), "unit-prevents", {}) == (204, "")


def test_loader_faults_are_500s_without_internals():
    status, body = call(make_app(), "unit-crashes", {"args": {}})
    assert status == 500 and json.loads(body) == {"error": "The lazy loader failed.", "status": 500}
    status, body = call(make_app(), "unit-not-a-layout", {"args": {}})
    assert status == 500 and "not a layout" in json.loads(body)["error"]


def test_debug_mode_names_the_exception():
    app = make_app()
    app.enable_dev_tools(debug=True, dev_tools_hot_reload=False)
    status, body = call(app, "unit-crashes", {"args": {}})
    assert status == 500 and json.loads(body)["detail"] == "RuntimeError: secret internals"


BAD_REQUESTS = [
    ("unit-panel", b"{not json " + SECRET.encode(), 400, "not valid JSON"),
    ("unit-panel", json.dumps([SECRET]).encode(), 400, '{"args": {...}}'),
    ("unit-panel", {"args": {"region": "n"}, SECRET: 1}, 400, '{"args": {...}}'),
    ("unit-panel", {"args": [SECRET]}, 400, "'args' must be a JSON object"),
    ("unit-panel", {"args": {SECRET.replace("-", " "): 1}}, 400, "do not match"),
    ("unit-panel", {"args": {"region": "n", "extra": SECRET}}, 400, "do not match"),
    ("unit-panel", {"args": {}}, 400, "do not match"),
    ("unit-panel", {"args": {"region": DEEP}}, 400, "nested"),
    ("unit-panel", {"args": {"region": SECRET * (MAX_ARGS_BYTES // len(SECRET) + 200)}}, 413, "at most"),
    (SECRET, {"args": {}}, 404, "no lazy loader"),
]


@pytest.mark.parametrize(
    "name,body,status,message",
    BAD_REQUESTS,
    ids=[
        "not-json",
        "not-an-object",
        "unknown-key",
        "args-not-object",
        "args-not-identifiers",
        "extra-arg",
        "missing-arg",
        "too-deep",
        "too-large",
        "unknown-loader",
    ],
)
def test_bad_requests_get_4xx_json_that_echoes_nothing(name, body, status, message):
    got_status, got_body = call(make_app(), name, body)
    assert got_status == status, got_body
    error = json.loads(got_body)
    assert message in error["error"] and error["status"] == status
    assert SECRET not in got_body and SECRET.replace("-", " ") not in got_body


def test_only_json_bodies_are_accepted():
    status, body = call(make_app(), "unit-panel", b'{"args": {"region": "n"}}', content_type="text/plain")
    assert status == 415 and "application/json" in json.loads(body)["error"]


def test_only_post_is_routed():
    async def go():
        response = await make_app().server.test_client().get("/_flash/lazy/unit-panel")
        return response.status_code

    assert run(go()) in (404, 405)


def test_cross_origin_posts_are_refused_when_origins_are_configured():
    app = make_app(allowed_origins=["https://app.example.com"])

    async def go():
        client = app.server.test_client()
        response = await client.post(
            "/_flash/lazy/unit-panel", json={"args": {"region": "n"}}, headers={"Origin": "https://evil.example.com"}
        )
        return response.status_code

    assert run(go()) == 403


def test_concurrent_loads_do_not_wait_for_each_other():
    """Each of two loaders waits until the other has started: both finish only if they overlap."""
    started = {"a": asyncio.Event(), "b": asyncio.Event()}

    @lazy_loader(name="unit-pair")
    async def pair(side: str):
        started[side].set()
        other = "b" if side == "a" else "a"
        await asyncio.wait_for(started[other].wait(), timeout=5)
        return html.Div(side)

    app = make_app()

    async def go():
        client = app.server.test_client()
        return await asyncio.gather(
            post(client, "unit-pair", {"args": {"side": "a"}}), post(client, "unit-pair", {"args": {"side": "b"}})
        )

    answers = run(go())
    assert [status for status, _ in answers] == [200, 200]
    assert [json.loads(body)["layout"]["props"]["children"] for _, body in answers] == ["a", "b"]


def test_the_route_follows_the_routes_prefix():
    app = Flash(__name__, routes_pathname_prefix="/dash/", requests_pathname_prefix="/dash/")
    app.layout = html.Div("x")

    async def go():
        client = app.server.test_client()
        response = await client.post("/dash/_flash/lazy/unit-sync", json={"args": {"n": 1}})
        return response.status_code

    assert run(go()) == 200


def test_install_adds_the_route_once(monkeypatch):
    from dash._hooks import hooks as dash_hooks

    # An app that was created before the hook existed: take the hook away while building it.
    routes = dash_hooks._ns["routes"]
    monkeypatch.setitem(dash_hooks._ns, "routes", [h for h in routes if h.data["name"] != "_flash/lazy/<name>"])
    monkeypatch.setattr(dash_hooks, "_clientside_callbacks", [])
    app = make_app()
    monkeypatch.undo()
    assert not [key for key in app.callback_map if "flash-lazy-content" in key]
    assert call(app, "unit-sync", {"args": {"n": 1}})[0] in (404, 405)  # only the GET catch-all
    install(app)
    install(app)
    assert call(app, "unit-sync", {"args": {"n": 1}})[0] == 200
    assert len([key for key in app.callback_map if "flash-lazy-content" in key]) == 1
