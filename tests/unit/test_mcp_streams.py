"""Streams as MCP tools (flash/streaming/wire/mcp_tools.py), driven by the `mcp` SDK's own client over
Streamable HTTP against a served app (hypercorn and uvicorn, in a child process): an event
callback and a Dash 4.5-style streaming `@callback` are listed (docstring, schema from their
Inputs/States), a call reports each frame as a progress notification in order and returns the
last frame's updates, a cancel stops the run (its generator's `finally` runs, no run is left),
ordinary callbacks stay Dash's plain tools, and bad calls get JSON-RPC errors."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, Optional
from urllib.request import urlopen

import pytest
from dash import Input, Output, State, dcc, html
from quart import Response

from flash import Flash, stream_props
from flash.testing import FlashRunner

mcp = pytest.importorskip("mcp", reason="needs the `mcp` SDK (pip install mcp)")
from mcp import Client  # noqa: E402


def make_app(**kwargs: Any) -> Flash:
    app = Flash(__name__, enable_mcp=True, **kwargs)
    app.layout = html.Div(
        [
            html.Button(id="go"),
            dcc.Input(id="rows", value=3),
            html.Div(id="out"),
            html.Div(id="total"),
            html.Button(id="forever"),
            html.Div(id="tick"),
            html.Button(id="boom"),
            html.Div(id="err"),
            dcc.Input(id="word", value="hi"),
            html.Div(id="shout"),
            dcc.Input(id="upto", value=2),
            html.Div(id="counted"),
        ]
    )
    ended = {"forever": 0}
    started = threading.Event()

    @app.event_callback(Input("go", "n_clicks"), State("rows", "value"))
    async def count_rows(n_clicks: Optional[int], rows: int) -> Any:
        """Count up to `rows`, one frame per row."""
        for i in range(1, int(rows) + 1):
            await asyncio.sleep(0)
            yield stream_props([("out", {"children": f"row {i}"}), ("total", {"children": i})])

    @app.event_callback(Input("forever", "n_clicks"))
    async def tick_forever(n_clicks: Any) -> Any:
        """Tick until cancelled."""
        try:
            i = 0
            while True:
                i += 1
                started.set()
                yield stream_props("tick", {"children": i})
                await asyncio.sleep(0.02)
        finally:
            ended["forever"] += 1

    @app.event_callback(Input("boom", "n_clicks"))
    def fail_after_one(n_clicks: Any) -> Any:  # a sync generator: it runs in the thread pool
        yield stream_props("err", {"children": "about to fail"})
        raise RuntimeError("secret detail")

    @app.callback(Output("counted", "children"), Input("upto", "value"))
    async def count_to(upto: int) -> Any:
        """Count to `upto` (Dash 4.5 streaming callback: each yield fills the Output)."""
        for i in range(1, int(upto) + 1):
            yield f"count {i}"

    @app.callback(Output("shout", "children"), Input("word", "value"), mcp_expose_docstring=True)
    def shout(word: str) -> str:
        """Upper-case a word."""
        return f"{word}!".upper()

    @app.server.route("/state")
    async def state() -> Response:
        return Response(
            json.dumps({"ended": ended["forever"], "runs": len(app.stream_runs), "mcp_live": len(app.mcp_streams.live)}),
            content_type="application/json",
        )

    return app


def _get(url: str) -> Any:
    with urlopen(url, timeout=30) as response:  # noqa: S310 (a local test server)
        return json.loads(response.read().decode())


def text_of(result: Any) -> Any:
    return json.loads(result.content[0].text)


async def _until(check: Any, what: str) -> None:
    for _ in range(600):  # a bound, not a measure
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("server", ["hypercorn", "uvicorn"])
def test_a_stream_tool_reports_each_frame_as_progress_then_its_result(flash_server: FlashRunner, server: str) -> None:
    url = flash_server.start(make_app(), server=server) + "/_mcp"
    seen: list[tuple[float, Optional[str]]] = []

    async def on_progress(progress: float, total: Optional[float], message: Optional[str]) -> None:
        seen.append((progress, message))

    async def go() -> Any:
        async with Client(url) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            result = await client.call_tool("count_rows", {"n_clicks": 1, "rows": 4}, progress_callback=on_progress)
            streamed = await client.call_tool("count_to", {"upto": 3}, progress_callback=on_progress)
            return tools, result, streamed

    tools, result, streamed = asyncio.run(go())
    tool = tools["count_rows"]
    assert "Count up to `rows`" in (tool.description or "")
    schema = tool.input_schema if hasattr(tool, "input_schema") else tool.inputSchema
    assert schema["properties"]["rows"]["type"] == "integer"
    assert "State('rows', 'value')" in schema["properties"]["rows"]["description"]
    assert schema["required"] == ["rows"]  # n_clicks is Optional
    assert {"count_to", "tick_forever", "shout"} <= set(tools)

    assert [progress for progress, _ in seen[:4]] == [1, 2, 3, 4]
    assert [json.loads(message or "") for _, message in seen[:4]] == [
        {"out": {"children": f"row {i}"}, "total": {"children": i}} for i in range(1, 5)
    ]
    assert not result.is_error
    answer = text_of(result)
    assert answer["response"] == {"out": {"children": "row 4"}, "total": {"children": 4}} and answer["frames"] == 4

    assert [json.loads(message or "") for _, message in seen[4:]] == [
        {"counted": {"children": f"count {i}"}} for i in range(1, 4)
    ]
    assert text_of(streamed)["props"] == {"counted": {"children": "count 3"}}


def test_cancelling_a_stream_tool_call_closes_its_run(flash_server: FlashRunner) -> None:
    base = flash_server.start(make_app())
    frames: list[float] = []

    async def on_progress(progress: float, total: Optional[float], message: Optional[str]) -> None:
        frames.append(progress)

    async def go() -> None:
        async with Client(base + "/_mcp") as client:
            call = asyncio.ensure_future(client.call_tool("tick_forever", {}, progress_callback=on_progress))
            await _until(lambda: len(frames) >= 3, "three frames")
            assert _get(base + "/state")["mcp_live"] == 1
            call.cancel()  # the SDK tells the server (notifications/cancelled, or closing the stream)
            with pytest.raises(asyncio.CancelledError):
                await call
            await _until(lambda: _get(base + "/state")["ended"] == 1, "the generator's finally")

    asyncio.run(go())
    assert frames[:3] == [1, 2, 3]
    state = _get(base + "/state")
    assert state == {"ended": 1, "runs": 0, "mcp_live": 0}


@pytest.mark.parametrize("server", ["hypercorn", "uvicorn"])
def test_closing_the_connection_of_a_stream_tool_call_closes_its_run(flash_server: FlashRunner, server: str) -> None:
    """An agent that goes away without a cancel (its process dies): the response's connection
    closes and the run ends with it. Spoken in raw JSON-RPC over httpx, as any client would."""
    import httpx

    base = flash_server.start(make_app(), server=server)
    call = {
        "jsonrpc": "2.0",
        "id": 9,
        "method": "tools/call",
        "params": {"name": "tick_forever", "arguments": {}, "_meta": {"progressToken": "t"}},
    }
    headers = {"Accept": "application/json, text/event-stream"}
    progress = []
    with httpx.Client(timeout=30) as client, client.stream("POST", base + "/_mcp", json=call, headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                progress.append(json.loads(line[6:]))
            if len(progress) == 3:
                break
    # leaving the block closed the connection mid-stream

    assert [(m["method"], m["params"]["progressToken"], m["params"]["progress"]) for m in progress] == [
        ("notifications/progress", "t", n) for n in (1, 2, 3)
    ]

    async def ended() -> None:
        await _until(lambda: _get(base + "/state")["ended"] == 1, "the generator's finally")

    asyncio.run(ended())
    assert _get(base + "/state") == {"ended": 1, "runs": 0, "mcp_live": 0}


def test_ordinary_callbacks_stay_plain_tools_and_errors_are_answered(flash_server: FlashRunner) -> None:
    base = flash_server.start(make_app())

    async def go() -> Any:
        async with Client(base + "/_mcp") as client:
            shout = await client.call_tool("shout", {"word": "mcp"})
            failed = await client.call_tool("fail_after_one", {})
            unknown = await _raises(client.call_tool("count_rows", {"rows": 2, "nope": 1}))
            missing = await _raises(client.call_tool("count_rows", {}))
            return shout, failed, unknown, missing

    shout, failed, unknown, missing = asyncio.run(go())
    assert text_of(shout)["response"] == {"shout": {"children": "MCP!"}}
    assert failed.is_error
    answer = text_of(failed)
    assert answer["response"] == {"err": {"children": "about to fail"}}
    assert "secret detail" not in json.dumps(answer)  # not debug: the message stays on the server
    assert "nope" in unknown and "rows" in missing
    assert _get(base + "/state")["runs"] == 0


async def _raises(call: Any) -> str:
    try:
        result = await call
    except Exception as exc:  # the SDK's McpError
        return str(exc)
    raise AssertionError(f"expected a JSON-RPC error, got {result}")


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "count_rows", "arguments": {}}}, 400),
        ({"jsonrpc": "2.0", "id": True, "method": "tools/call", "params": {"name": "count_rows", "arguments": {}}}, 400),
    ],
)
def test_a_stream_tool_call_that_is_not_a_request_is_a_4xx_json_error(message: dict[str, Any], code: int) -> None:
    app = make_app()

    async def go() -> tuple[int, Any]:
        client = app.server.test_client()
        await client.get("/")  # the first request takes the app's streams
        response = await client.post("/_mcp", json=message)
        return response.status_code, await response.get_json()

    status, answer = asyncio.run(go())
    assert status == code and "error" in answer and "count_rows" not in json.dumps(answer)


def test_bad_arguments_and_a_full_server_are_json_rpc_errors() -> None:
    app = make_app()

    async def go() -> list[Any]:
        client = app.server.test_client()
        await client.get("/")
        answers = []
        for arguments in ([1, 2], {"rows": 2, "extra": 0}):
            response = await client.post(
                "/_mcp",
                json={
                    "jsonrpc": "2.0",
                    "id": 5,
                    "method": "tools/call",
                    "params": {"name": "count_rows", "arguments": arguments},
                },
            )
            answers.append((response.status_code, await response.get_json()))
        app.mcp_streams.max_runs = 0
        response = await client.post(
            "/_mcp",
            json={"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": "count_rows", "arguments": {"rows": 1}}},
        )
        answers.append((response.status_code, await response.get_json()))
        return answers

    (s1, bad_type), (s2, extra), (s3, busy) = asyncio.run(go())
    assert s1 == s2 == s3 == 200
    assert bad_type["error"]["code"] == -32602 and bad_type["id"] == 5
    assert extra["error"]["code"] == -32602 and "extra" in extra["error"]["message"]
    assert busy["error"]["code"] == -32000 and busy["id"] == 6


def test_the_gallery_example_agent_watches_and_cancels_a_scan(flash_server: FlashRunner) -> None:
    """examples/mcp_agent.py served, examples/mcp_agent_client.py's `watch` as the agent."""
    from examples import mcp_agent
    from examples.mcp_agent_client import watch

    base = flash_server.start(mcp_agent.app)
    lines: list[str] = []
    full = asyncio.run(watch(base + "/_mcp", sensors=3, delay=0, say=lines.append))
    assert len(full["frames"]) == 5  # start, three readings, done
    assert [frame["progress"]["value"] for frame in full["frames"][1:4]] == ["1", "2", "3"]
    assert full["result"]["response"]["status"]["children"].startswith("Done: 3 sensors")
    assert "scan_sensors" in lines[0] and "summarise" in lines[0]

    stopped = asyncio.run(watch(base + "/_mcp", sensors=50, delay=0.05, stop_after=2, say=lines.append))
    assert stopped["result"] is None and len(stopped["frames"]) >= 2
    assert "cancelled after" in lines[-1]


def test_a_stream_can_be_hidden_and_follows_dash_include_callbacks() -> None:
    from dash.mcp import configure_mcp_server

    app = make_app()

    async def listed() -> set[str]:
        client = app.server.test_client()
        await client.get("/")
        response = await client.post("/_mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        return {tool["name"] for tool in (await response.get_json())["result"]["tools"]}

    assert {"count_rows", "tick_forever", "count_to"} <= asyncio.run(listed())
    app.mcp_streams.expose("tick_forever", False)
    tools = asyncio.run(listed())
    assert "tick_forever" not in tools and "count_rows" in tools
    assert not app.mcp_streams.is_tool("tick_forever")  # a call goes to Dash: "Tool not found"
    configure_mcp_server(include_callbacks=False)
    try:
        app.mcp_streams.expose("count_to")
        tools = asyncio.run(listed())
        assert "count_to" in tools and "count_rows" not in tools and "shout" not in tools
    finally:
        configure_mcp_server(include_callbacks=True)


def test_stream_tools_with_the_redis_stream_bus(flash_server: FlashRunner, tmp_path: Any) -> None:
    """With Redis shared storage (the stream bus), a tool call's run still reports each frame
    and a cancel still closes it: an MCP run lives on the worker answering the call."""
    from flash import RedisSharedStorage
    from tests.integration.cluster import RedisServer
    from tests.integration.conftest import free_port

    redis_server = RedisServer(free_port(), tmp_path)
    redis_server.start()
    try:
        app = make_app(shared_storage=RedisSharedStorage(url=redis_server.url, key_prefix="mcp-test"))
        base = flash_server.start(app)
        seen: list[float] = []

        async def on_progress(progress: float, total: Optional[float], message: Optional[str]) -> None:
            seen.append(progress)

        async def go() -> Any:
            async with Client(base + "/_mcp") as client:
                result = await client.call_tool("count_rows", {"rows": 3}, progress_callback=on_progress)
                call = asyncio.ensure_future(client.call_tool("tick_forever", {}, progress_callback=on_progress))
                await _until(lambda: len(seen) >= 6, "three ticks")
                call.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await call
                await _until(lambda: _get(base + "/state")["ended"] == 1, "the generator's finally")
                return result

        result = asyncio.run(go())
        assert seen[:3] == [1, 2, 3] and text_of(result)["frames"] == 3
        assert _get(base + "/state") == {"ended": 1, "runs": 0, "mcp_live": 0}
    finally:
        redis_server.kill()
