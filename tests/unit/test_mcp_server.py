"""Dash's MCP server (`Flash(enable_mcp=True)`) served by Flash, driven by the `mcp` SDK's own
client over Streamable HTTP against a served app (hypercorn and uvicorn, in a child process).
Dash 4.4.1 and 4.5 both have it; what Flash adds (flash/server/mcp.py): tool calls run off the
event loop, `async def` callbacks and layouts work, and bad requests get Flash's 4xx JSON errors."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, Iterator

import pytest
from dash import Input, Output, dcc, html
from quart import Response

from flash import Flash
from flash.testing import FlashRunner

mcp = pytest.importorskip("mcp", reason="needs the `mcp` SDK (pip install mcp)")
from mcp import Client  # noqa: E402


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def mcp_tool() -> Iterator[None]:
    """A plain function exposed with Dash's `@mcp_enabled` (a global registry: removed after)."""
    from dash.mcp import mcp_enabled
    from dash.mcp._decorator import MCP_DECORATED_FUNCTIONS

    before = dict(MCP_DECORATED_FUNCTIONS)

    @mcp_enabled(name="flash_test_add")
    def add(a: int, b: int) -> dict[str, Any]:
        return {"sum": a + b, "on_a_loop": _on_a_loop()}

    yield
    MCP_DECORATED_FUNCTIONS.clear()
    MCP_DECORATED_FUNCTIONS.update(before)


def _on_a_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def make_app(**kwargs: Any) -> Flash:
    app = Flash(__name__, enable_mcp=True, **kwargs)
    gate, waiting = threading.Event(), threading.Event()

    async def layout() -> Any:  # an async layout: Dash's MCP reads it from a pool thread
        await asyncio.sleep(0)
        return html.Div(
            [
                dcc.Input(id="word", value="hi"),
                html.Div(id="shout"),
                dcc.Input(id="num", value=2),
                html.Div(id="doubled"),
                html.Button(id="wait"),
                html.Div(id="waited"),
                dcc.Input(id="secret", value="s"),
                html.Div(id="hidden-out"),
            ]
        )

    app.layout = layout

    @app.callback(Output("shout", "children"), Input("word", "value"), mcp_expose_docstring=True)
    def shout(word: str) -> str:
        """Upper-case a word."""
        return f"{word}!".upper()

    @app.callback(Output("doubled", "children"), Input("num", "value"))
    async def double(num: Any) -> str:
        await asyncio.sleep(0)
        return f"doubled {int(num) * 2}"

    @app.callback(Output("waited", "children"), Input("wait", "n_clicks"), prevent_initial_call=True)
    def wait_for_gate(n_clicks: Any) -> str:
        # Blocks until another request opens the gate: only possible if this runs off the loop.
        waiting.set()
        return "gate opened" if gate.wait(20) else "the loop was blocked"

    @app.callback(Output("hidden-out", "children"), Input("secret", "value"), mcp_enabled=False)
    def not_a_tool(secret: str) -> str:
        return secret

    @app.server.route("/open-gate")
    async def open_gate() -> Response:
        gate.set()
        return Response("open")

    @app.server.route("/waiting")
    async def is_waiting() -> Response:
        return Response("yes" if waiting.is_set() else "no")

    return app


def text_of(result: Any) -> Any:
    assert not result.is_error, result
    return json.loads(result.content[0].text)


async def talk(url: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    async with Client(url) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        seen["tools"] = sorted(tools)
        seen["shout_doc"] = "Upper-case a word." in (tools["shout"].description or "")
        seen["shout"] = text_of(await client.call_tool("shout", {"word": "mcp"}))
        seen["double"] = text_of(await client.call_tool("double", {"num": 21}))
        if "flash_test_add" in tools:
            seen["add"] = text_of(await client.call_tool("flash_test_add", {"a": 2, "b": 3}))
        resources = await client.list_resources()
        seen["resources"] = sorted(str(r.uri) for r in resources.resources)
        layout = await client.read_resource("dash://layout")
        seen["layout_has_word"] = '"word"' in layout.contents[0].text
    return seen


@pytest.mark.parametrize("server", ["hypercorn", "uvicorn"])
def test_the_mcp_sdk_client_lists_and_calls_sync_and_async_callbacks(
    flash_server: FlashRunner, server: str, mcp_tool: None
) -> None:
    url = flash_server.start(make_app(), server=server) + "/_mcp"
    seen = run(talk(url))
    assert seen["add"] == {"sum": 5, "on_a_loop": False}  # an @mcp_enabled function, in the pool
    assert {"shout", "double", "wait_for_gate"} <= set(seen["tools"]) and "not_a_tool" not in seen["tools"]
    assert seen["shout_doc"]
    assert seen["shout"]["response"] == {"shout": {"children": "MCP!"}}
    # Dash's own handler cannot await an async callback (its tool call fails); on Flash it runs.
    assert seen["double"]["response"] == {"doubled": {"children": "doubled 42"}}
    assert "dash://layout" in seen["resources"] and seen["layout_has_word"]


def test_a_blocking_sync_tool_call_does_not_block_other_requests(flash_server: FlashRunner) -> None:
    base = flash_server.start(make_app())

    async def go() -> Any:
        async with Client(base + "/_mcp") as client:
            call = asyncio.ensure_future(client.call_tool("wait_for_gate", {"wait": 1}))
            # Served only while the callback blocks its thread if the loop is free (else: timeout).
            while await asyncio.to_thread(_get, base + "/waiting") != "yes":
                await asyncio.sleep(0.05)
            opened = await asyncio.to_thread(_get, base + "/open-gate")
            return opened, text_of(await call)

    opened, result = run(go())
    assert opened == "open"
    assert result["response"] == {"waited": {"children": "gate opened"}}


def _get(url: str) -> str:
    from urllib.request import urlopen

    with urlopen(url, timeout=30) as response:  # noqa: S310 (a local test server)
        return str(response.read().decode())


def test_a_custom_mcp_path_and_routes_prefix(flash_server: FlashRunner) -> None:
    app = make_app(mcp_path="/tools/mcp", routes_pathname_prefix="/app/", requests_pathname_prefix="/app/")
    url = flash_server.start(app) + "/app/tools/mcp"
    assert run(talk(url))["shout"]["response"] == {"shout": {"children": "MCP!"}}


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"Content-Type": "text/plain"}, b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}', 415),
        ({"Content-Type": "application/json"}, b'{"jsonrpc": ', 400),
        ({"Content-Type": "application/json"}, b"", 400),
        ({"Content-Type": "application/json"}, b'[{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}]', 400),
        ({"Content-Type": "application/json"}, b'"tools/list"', 400),
        ({"Content-Type": "application/json"}, b"[" * 200 + b"]" * 200, 400),
        (
            {"Content-Type": "application/json", "Origin": "https://evil.example"},
            b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}',
            403,
        ),
    ],
)
def test_bad_mcp_requests_get_flash_json_errors(headers: dict[str, str], body: bytes, status: int) -> None:
    app = make_app(allowed_origins=["https://good.example"])

    async def go() -> tuple[int, Any]:
        response = await app.server.test_client().post("/_mcp", data=body, headers=headers)
        return response.status_code, await response.get_json()

    code, answer = run(go())
    assert code == status and answer["status"] == status and "error" in answer
    assert "evil" not in json.dumps(answer) and "tools/list" not in json.dumps(answer)


def test_an_allowed_origin_and_a_same_origin_request_are_served() -> None:
    app = make_app(allowed_origins=["https://good.example"])
    message = {"jsonrpc": "2.0", "id": 7, "method": "tools/list"}

    async def go(origin: str) -> tuple[int, Any]:
        response = await app.server.test_client().post("/_mcp", json=message, headers={"Origin": origin, "Host": "localhost"})
        return response.status_code, await response.get_json()

    for origin in ("https://good.example", "http://localhost"):
        code, answer = run(go(origin))
        assert code == 200 and answer["id"] == 7
        assert "shout" in {tool["name"] for tool in answer["result"]["tools"]}


def test_without_enable_mcp_there_is_no_mcp_route() -> None:
    app = Flash(__name__)
    app.layout = html.Div()

    async def go() -> int:
        response = await app.server.test_client().post("/_mcp", json={"jsonrpc": "2.0", "id": 1, "method": "initialize"})
        return response.status_code

    assert run(go()) in (404, 405)


def test_dash_keeps_its_mcp_message_handler_where_flash_reads_it() -> None:
    """`compat.dash.mcp_message_handler` reads Dash's handler from the closure of Dash's POST view
    (Dash's own Quart app here, not Flash's): if a Dash upgrade moves it, this names the place."""
    import dash

    from flash.compat.dash import mcp_message_handler, mcp_url

    app = dash.Dash(__name__, enable_mcp=True, backend="quart")  # Dash registers its routes here
    url = mcp_url(app)
    assert url == "/_mcp"
    handler = mcp_message_handler(app.server.view_functions[f"{url}:POST"])
    assert callable(handler) and handler.__name__ == "_handle_mcp_request", (
        "Dash's MCP POST view no longer keeps `_handle_mcp_request`: update flash/compat/dash_45.py "
        "(mcp_message_handler) and flash/server/mcp.py."
    )
