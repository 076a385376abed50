"""`websocket_route` on Quart's test client: JSON out and in, props messages, limits, origins."""

import asyncio
import json

import numpy as np
import pytest
from quart.testing.connections import WebsocketDisconnectError, WebsocketResponseError

from flash import Flash, Patch, html, stream_props
from flash.components import Socket, websocket_route
from tests.conftest import run


def make_app(**kwargs):
    app = Flash(__name__, **kwargs)
    app.layout = html.Div("x")
    return app


async def closed_code(ws):
    """Read until the server closes; return its close code."""
    with pytest.raises(WebsocketDisconnectError) as info:
        while True:
            await ws.receive()
    return info.value.args[0]


def test_a_generator_sends_each_yield_as_json_and_props_as_props_messages():
    app = make_app()

    @websocket_route(app, "/ws/feed")
    async def feed():
        yield {"n": 1, "values": np.array([1.5, 2.5])}
        yield stream_props("chart", {"extendData": [{"y": [[3]]}, [0], 10]})
        patch = Patch()
        patch.append("token")
        yield stream_props([("out", {"children": patch}), ({"type": "x", "i": 1}, {"value": 2})])

    async def go():
        async with app.server.test_client().websocket("/ws/feed") as ws:
            messages = [json.loads(await ws.receive()) for _ in range(3)]
            return messages, await closed_code(ws)

    messages, code = run(go())
    assert messages[0] == {"n": 1, "values": [1.5, 2.5]}
    assert messages[1] == {"__flash_props__": [["chart", {"extendData": [{"y": [[3]]}, [0], 10]}]]}
    updates = messages[2]["__flash_props__"]
    assert updates[0][0] == "out" and updates[0][1]["children"]["__dash_patch_update"] == "__dash_patch_update"
    assert updates[1] == [{"type": "x", "i": 1}, {"value": 2}]
    assert code == 1000, "a handler that ends closes normally (the page does not reconnect)"


def test_a_handler_receives_client_messages_and_drain_does_not_wait():
    app = make_app()
    seen = []

    @websocket_route(app, "ws/echo")  # relative: under the routes prefix
    async def echo(ws: Socket):
        assert ws.drain() == []
        first = await ws.receive()
        await ws.send({"echo": first, "query": ws.args.get("q")})
        drained: list = []
        while not drained:  # what has arrived, without waiting for more
            drained = ws.drain()
            await asyncio.sleep(0.01)
        await ws.send({"drained": drained})
        async for message in ws:
            seen.append(message)
            if message == "bye":
                await ws.close(4001, "done")

    async def go():
        async with app.server.test_client().websocket("/ws/echo?q=abc") as ws:
            await ws.send(json.dumps({"hello": [1, 2]}))
            answer = json.loads(await ws.receive())
            await ws.send(json.dumps("drained"))
            drained = json.loads(await ws.receive())
            await ws.send(json.dumps("kept"))
            await ws.send(json.dumps("bye"))
            return answer, drained, await closed_code(ws)

    answer, drained, code = run(go())
    assert answer == {"echo": {"hello": [1, 2]}, "query": "abc"}
    assert drained == {"drained": ["drained"]}
    assert seen == ["kept", "bye"] and code == 4001


@pytest.mark.parametrize("payload,code", [("not json {", 1007), (json.dumps("x" * 2000), 1009)], ids=["not-json", "too-large"])
def test_bad_client_messages_close_the_socket(payload, code):
    app = make_app()

    @websocket_route(app, "/ws/strict", max_message_size=1000)
    async def strict(ws: Socket):
        async for message in ws:
            await ws.send({"got": message})

    async def go():
        async with app.server.test_client().websocket("/ws/strict") as ws:
            await ws.send(json.dumps("ok"))
            first = json.loads(await ws.receive())
            await ws.send(payload)
            return first, await closed_code(ws)

    first, got = run(go())
    assert first == {"got": "ok"} and got == code


def test_a_failing_handler_closes_with_1011_and_says_nothing(caplog):
    app = make_app()

    @websocket_route(app, "/ws/fails")
    async def fails():
        yield {"ok": True}
        raise RuntimeError("secret internals")

    async def go():
        async with app.server.test_client().websocket("/ws/fails") as ws:
            first = await ws.receive()
            return first, await closed_code(ws)

    first, code = run(go())
    assert json.loads(first) == {"ok": True} and code == 1011
    assert "secret internals" in caplog.text  # logged on the server, with its traceback


def test_a_client_disconnect_closes_the_generator():
    app = make_app()
    finished = []

    @websocket_route(app, "/ws/endless")
    async def endless():
        try:
            while True:
                yield {"tick": 1}
                await asyncio.sleep(0.01)
        finally:
            finished.append(True)

    async def go():
        async with app.server.test_client().websocket("/ws/endless") as ws:
            await ws.receive()
        for _ in range(100):
            if finished:
                break
            await asyncio.sleep(0.01)

    run(go())
    assert finished == [True]


@pytest.mark.parametrize(
    "origin,allowed,app_origins,accepted",
    [
        (None, None, None, True),  # not a browser
        ("http://localhost", None, None, True),  # the test client's own host
        ("https://evil.example.com", None, None, False),
        ("https://evil.example.com", "*", None, True),
        ("https://partner.example.com", ["https://partner.example.com"], None, True),
        ("https://partner.example.com", None, ["https://partner.example.com"], True),
    ],
)
def test_cross_origin_handshakes_are_refused(origin, allowed, app_origins, accepted):
    app = make_app(allowed_origins=app_origins)

    @websocket_route(app, "/ws/origin", allowed_origins=allowed)
    async def hello():
        yield "hello"

    async def go():
        headers = {"Origin": origin} if origin else {}
        async with app.server.test_client().websocket("/ws/origin", headers=headers) as ws:
            try:
                return await ws.receive()
            except WebsocketResponseError as error:
                return error.response.status_code, json.loads(await error.response.get_data())

    answer = run(go())
    if accepted:
        assert answer == '"hello"'
    else:
        assert answer == (403, {"error": "Cross-origin websocket refused: its Origin is not allowed.", "status": 403})


def test_only_async_handlers_are_accepted():
    app = make_app()
    with pytest.raises(TypeError, match="async generator or an `async def`"):

        @websocket_route(app, "/ws/sync")
        def sync_handler(ws):
            return ws


def test_send_after_close_raises_socket_closed():
    app = make_app()
    outcome = []

    @websocket_route(app, "/ws/closing")
    async def closing(ws: Socket):
        await ws.close(1012, "restart")
        try:
            await ws.send("late")
        except Exception as error:
            outcome.append(type(error).__name__)

    async def go():
        async with app.server.test_client().websocket("/ws/closing") as ws:
            return await closed_code(ws)

    assert run(go()) == 1012 and outcome == ["SocketClosed"]
