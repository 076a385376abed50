"""The floor: a bare ASGI app (no framework) doing the same JSON and SSE work as the app.

It parses the callback body, runs the same callback logic and builds byte-identical response
JSON; streams speak Flash's downlink protocol with Flash's SSE bytes (one downlink response per
browser, runs started on it by short POSTs; tokens are random, not signed; Flash's batching of
queued messages into one write). Page-load routes serve bytes captured once at start-up from the
real app, so W6's floor is "send those bytes".
"""

from __future__ import annotations

import asyncio
import secrets
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
    import dash

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


HIGH_WATER = 256  # queued messages on a downlink before its producers wait (as Flash's)
COALESCE_TURNS = 8  # loop turns a woken response waits while its queue grows (as Flash's)
HEARTBEAT = b": heartbeat\n\n"
HEARTBEAT_SECONDS = 1.0  # the benchmark's Flash app runs with stream_heartbeat=1


def _hello(token: str) -> bytes:
    return b'event: hello\ndata: {"downlink":"%s","resumed":false}\n\n' % token.encode()


def _run_event(event: bytes, run_id: bytes, seq: int, data: Any) -> bytes:
    """Byte for byte what Flash's `encode_run_event` writes."""
    return b'event: %s\ndata: {"run":"%s","seq":%d,"data":%s}\n\n' % (event, run_id, seq, orjson.dumps(data))


def _wake(waiter: "asyncio.Future[None] | None") -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class _Downlink:
    """One open downlink: producers queue whole events, its response writes what is queued."""

    __slots__ = ("token", "pending", "waiter", "held", "runs", "alive", "timer")

    def __init__(self, token: str) -> None:
        self.token = token
        self.pending: list[bytes] = []
        self.waiter: asyncio.Future[None] | None = None
        self.held: list[asyncio.Future[None]] = []  # producers waiting for the browser
        self.runs: dict[bytes, asyncio.Future[None]] = {}
        self.alive = True
        self.timer: asyncio.TimerHandle | None = None

    def push(self, chunk: bytes) -> None:
        self.pending.append(chunk)
        _wake(self.waiter)

    async def deliver(self, chunk: bytes) -> None:
        if not self.alive:
            return
        self.push(chunk)
        if len(self.pending) >= HIGH_WATER:
            held = asyncio.get_running_loop().create_future()
            self.held.append(held)
            await held

    def release(self) -> None:
        held, self.held = self.held, []
        for waiter in held:
            _wake(waiter)

    def beat(self) -> None:
        """A heartbeat every second, from one re-armed timer (no task per downlink)."""
        self.push(HEARTBEAT)
        self.timer = asyncio.get_running_loop().call_later(HEARTBEAT_SECONDS, self.beat)

    def end(self) -> None:
        self.alive = False
        _wake(self.waiter)


async def _watch(receive: Receive, downlink: _Downlink) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    downlink.end()


async def _tick_run(downlink: _Downlink, run_id: bytes, count: int) -> None:
    """`ticker`: `count` props messages then done, the producer yielding to the loop after each."""
    for i in range(count):
        await downlink.deliver(_run_event(b"props", run_id, i + 1, [["tick-out", {"children": i}]]))
        await asyncio.sleep(0)
    await downlink.deliver(_run_event(b"done", run_id, count + 1, {}))


async def _idle_run(downlink: _Downlink, run_id: bytes, value: Any) -> None:
    """`idler`: one props message, then nothing until it is closed."""
    await downlink.deliver(_run_event(b"props", run_id, 1, [["idle-out", {"children": value}]]))
    await asyncio.get_running_loop().create_future()


class _Streams:
    """The downlink protocol by hand: `POST /_flash/downlink` (an SSE response per browser),
    `POST /_flash/stream/<id>` (start a run on it, answer its handle), `POST /_flash/close`."""

    def __init__(self) -> None:
        self.downlinks: dict[str, _Downlink] = {}

    async def downlink(self, receive: Receive, send: Send) -> None:
        await _read_body(receive)  # {"downlink": null, "runs": {}}: the benchmarks never resume
        token = f"{secrets.token_urlsafe(16)}.{secrets.token_urlsafe(16)}"
        downlink = self.downlinks[token] = _Downlink(token)
        loop = asyncio.get_running_loop()
        watcher = asyncio.ensure_future(_watch(receive, downlink))
        downlink.timer = loop.call_later(HEARTBEAT_SECONDS, downlink.beat)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            await send({"type": "http.response.body", "body": _hello(token), "more_body": True})
            while downlink.alive:
                if not downlink.pending:
                    downlink.waiter = loop.create_future()
                    await downlink.waiter
                    downlink.waiter = None
                    continue
                for _ in range(COALESCE_TURNS):  # Flash's batching: let fast producers fill one write
                    queued = len(downlink.pending)
                    if queued >= HIGH_WATER:
                        break
                    await asyncio.sleep(0)
                    if len(downlink.pending) == queued:
                        break
                batch, downlink.pending = downlink.pending, []
                downlink.release()
                await send({"type": "http.response.body", "body": b"".join(batch), "more_body": True})
        except OSError:
            pass
        finally:
            downlink.alive = False
            watcher.cancel()
            if downlink.timer is not None:
                downlink.timer.cancel()
            del self.downlinks[token]
            downlink.release()
            for run in list(downlink.runs.values()):
                run.cancel()

    async def start(self, receive: Receive, send: Send) -> None:
        body = orjson.loads(await _read_body(receive))
        downlink = self.downlinks.get(body.get("downlink"))
        if downlink is None:
            await _respond(send, 409, b'{"error": "no such downlink"}', JSON_HEADERS)
            return
        run_id = secrets.token_urlsafe(16)
        trigger = body["inputs"][0]
        rid = run_id.encode()
        if trigger["id"] == apps.IDLE_INPUT:
            run = asyncio.ensure_future(_idle_run(downlink, rid, trigger["value"]))
        else:
            run = asyncio.ensure_future(_tick_run(downlink, rid, int(trigger["value"] or 0)))
        downlink.runs[rid] = run
        run.add_done_callback(lambda _: downlink.runs.pop(rid, None))
        handle = f"{run_id}.{secrets.token_urlsafe(16)}"
        await _respond(send, 200, b'{"run":"%s"}' % handle.encode(), JSON_HEADERS)

    async def close(self, receive: Receive, send: Send) -> None:
        body = orjson.loads(await _read_body(receive))
        downlink = self.downlinks.get(body.get("downlink"))
        closed = 0
        for handle in body.get("runs", []) if downlink is not None else []:
            run = downlink.runs.get(handle.split(".", 1)[0].encode())  # type: ignore[union-attr]
            if run is not None:
                run.cancel()
                closed += 1
        await _respond(send, 200, b'{"closed":%d}' % closed, JSON_HEADERS)


class RawApp:
    """ASGI callable; `pages` is filled lazily so importing this module stays cheap."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[bytes, bytes]] | None = None
        self.streams = _Streams()

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
            await self.streams.start(receive, send)
        elif method == "POST" and path == "/_flash/downlink":
            await self.streams.downlink(receive, send)
        elif method == "POST" and path == "/_flash/close":
            await self.streams.close(receive, send)
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
