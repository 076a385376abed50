"""The floor: a bare ASGI app (no framework) doing the same JSON and SSE work as the app.

It parses the callback body, runs the same callback logic and builds byte-identical response
JSON; streams use Flash's SSE framing. Page-load routes serve bytes captured once at start-up
from the real app, so W6's floor is "send those bytes".
"""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import orjson

from . import apps

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


async def _trivial(n: Any) -> str:
    return f"clicked {n}"


async def _slow(n: Any) -> str:
    await asyncio.sleep(apps.SLOW_SECONDS)
    return f"slept {n}"


CALLBACKS: dict[str, Callable[[Any], Awaitable[str]]] = {
    f"{apps.TRIVIAL_ASYNC[0]}.children": _trivial,
    f"{apps.TRIVIAL_SYNC[0]}.children": _trivial,
    f"{apps.SLOW_ASYNC[0]}.children": _slow,
    f"{apps.SLOW_SYNC[0]}.children": _slow,
}


def _capture_pages() -> dict[str, tuple[bytes, bytes]]:
    """Index, layout and dependencies as the real app (Dash on Flask) answers them."""
    import dash  # pylint: disable=import-outside-toplevel

    client = apps.build_app(dash.Dash, use_async=False).server.test_client()
    pages = {}
    for path in ("/", "/_dash-layout", "/_dash-dependencies"):
        response = client.get(path)
        pages[path] = (response.data, response.headers["Content-Type"].encode())
    return pages


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    length = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + length})
    await send({"type": "http.response.body", "body": body})


async def _callback(receive: Receive, send: Send) -> None:
    body = orjson.loads(await _read_body(receive))
    output = body["output"]
    value = body["inputs"][0]["value"]
    result = await CALLBACKS[output](value)
    component = output.split(".", 1)[0]
    payload = {"multi": True, "response": {component: {"children": result}}}
    await _respond(send, 200, orjson.dumps(payload), JSON_HEADERS)


def _event(event: str, data: Any, seq: int) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (seq, event.encode(), orjson.dumps(data))


async def _stream(receive: Receive, send: Send) -> None:
    """`ticker`: n props messages then done, each producer step yielding to the loop;
    `idler`: one props message, then a heartbeat every second until the client goes."""
    body = orjson.loads(await _read_body(receive))
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
    opened = _event("open", {"run": body["run"], "resumed": False}, 0)
    await send({"type": "http.response.body", "body": opened, "more_body": True})
    if body["inputs"][0]["id"] == apps.IDLE_INPUT:
        await _idle(receive, send, body["inputs"][0]["value"])
        return
    count = int(body["inputs"][0]["value"] or 0)
    for i in range(count):
        chunk = _event("props", [["tick-out", {"children": i}]], i + 1)
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await asyncio.sleep(0)
    await send({"type": "http.response.body", "body": _event("done", {}, count + 1)})


async def _idle(receive: Receive, send: Send, value: Any) -> None:
    await send({"type": "http.response.body", "body": _event("props", [["idle-out", {"children": value}]], 1), "more_body": True})

    async def beat() -> None:
        while True:
            await asyncio.sleep(1.0)
            await send({"type": "http.response.body", "body": b": heartbeat\n\n", "more_body": True})

    task = asyncio.create_task(beat())
    try:
        while (await receive())["type"] != "http.disconnect":
            pass
    finally:
        task.cancel()


class RawApp:
    """ASGI callable; `pages` is filled lazily so importing this module stays cheap."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[bytes, bytes]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        path, method = scope["path"], scope["method"]
        if method == "POST" and path == "/_dash-update-component":
            await _callback(receive, send)
        elif method == "POST" and path.startswith("/_flash/stream/"):
            await _stream(receive, send)
        elif method == "GET" and path in self._pages():
            data, content_type = self._pages()[path]
            await _respond(send, 200, data, [(b"content-type", content_type)])
        else:
            await _respond(send, 404, b'{"error": "not found"}', JSON_HEADERS)

    def _pages(self) -> dict[str, tuple[bytes, bytes]]:
        if self.pages is None:
            self.pages = _capture_pages()
        return self.pages

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._pages()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
