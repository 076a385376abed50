"""`websocket_route(app, path)`: serve a websocket from `app.server` for the `WebSocket` component.

The handler is an async generator (every value it yields is sent) or an `async def` that sends
and receives itself; either may take a `Socket` argument. Values go out as JSON under Dash's
rules (figures, numpy, `Patch`); a `stream_props(...)` value goes out as props for the page's
components. Client messages are JSON too, read by a task of their own, so a generator can look
at them between yields (`socket.drain()`) while a handler awaits them (`socket.receive()`).

Browsers send websockets cross-site with the user's cookies (no CORS applies), so a handshake
whose Origin is not this app's own (or one of `allowed_origins`) is refused with a 403.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from typing import Any, AsyncIterator, Callable, Iterable, Sequence, TypeVar

import orjson
from quart import Response, websocket
from quart.wrappers import Websocket

from ..server.errors import RequestError, json_error
from ..server.guard import check_origin
from ..server.jsonfast import dumps
from ..server.limits import Limits
from ..streaming.declare.props import StreamProps, Update, stream_props

H = TypeVar("H", bound=Callable[..., Any])
logger = logging.getLogger("flash.components")

DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024
INBOX_SIZE = 256  # client messages a handler has not read yet; the reader waits beyond
PROPS_KEY = "__flash_props__"  # the page applies these via set_props (flash-websocket.js)


class SocketClosed(Exception):
    """The connection is closed: raised by `Socket.send`/`receive` after a close."""


class Socket:
    """One browser's connection to a `websocket_route`."""

    def __init__(self, ws: Websocket, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self._ws = ws
        self._max = max_message_size
        self._inbox: deque[Any] = deque()
        self._arrived = asyncio.Event()  # a message came in, or the socket closed
        self._room = asyncio.Event()  # the inbox has room again
        self.closed = False

    @property
    def args(self) -> Any:
        """The query string of the connection URL (`?symbol=ABC`), as Quart's MultiDict."""
        return self._ws.args

    @property
    def headers(self) -> Any:
        return self._ws.headers

    async def send(self, data: Any) -> None:
        """Send `data` as JSON; a `stream_props(...)` value updates those components' props."""
        if self.closed:
            raise SocketClosed("the websocket is closed")
        if isinstance(data, StreamProps):
            data = {PROPS_KEY: data.to_wire()}
        await self._ws.send(dumps(data).decode("utf-8"))

    async def send_props(self, component_id: Any = None, props: Any = None, *, batch: Iterable[Update] | None = None) -> None:
        """`send(stream_props(...))`: the same arguments as `stream_props`."""
        await self.send(stream_props(component_id, props, batch=batch))

    async def receive(self) -> Any:
        """The next message of the client (decoded JSON); SocketClosed once none is left and
        the connection is closed."""
        while not self._inbox:
            if self.closed:
                raise SocketClosed("the websocket is closed")
            self._arrived.clear()
            await self._arrived.wait()
        self._room.set()
        return self._inbox.popleft()

    def drain(self) -> list[Any]:
        """Every message received since the last call, without waiting."""
        items = list(self._inbox)
        self._inbox.clear()
        self._room.set()
        return items

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Any]:
        while True:
            try:
                yield await self.receive()
            except SocketClosed:
                return

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection. A code other than 1000 (e.g. 1012, "service restart") makes
        the `WebSocket` component reconnect; 1000 ends the conversation."""
        if not self.closed:
            self.closed = True
            self._arrived.set()
            await self._ws.close(code, reason[:120])

    async def _read(self) -> None:
        """Feed the inbox (waiting while it is full); close with 1009/1007 on a message too
        large or not JSON."""
        while not self.closed:
            raw = await self._ws.receive()
            if (len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8"))) > self._max:
                await self.close(1009, f"messages are at most {self._max} bytes")
                return
            try:
                message = orjson.loads(raw)
            except orjson.JSONDecodeError:
                await self.close(1007, "messages must be JSON")
                return
            while len(self._inbox) >= INBOX_SIZE and not self.closed:
                self._room.clear()
                await self._room.wait()
            self._inbox.append(message)
            self._arrived.set()


def _origin_refusal(app: Any, allowed: Sequence[str] | str | None) -> Response | None:
    origin = websocket.headers.get("Origin")
    if origin is None or allowed == "*":
        return None  # not a browser (browsers always send Origin on websockets)
    if allowed is None:
        limits = getattr(app, "limits", None)
        allowed = list(getattr(limits, "allowed_origins", None) or ())
    try:
        check_origin(
            Limits(allowed_origins=list(allowed)),
            origin,
            websocket.headers.get("Host"),
            websocket.headers.get("X-Forwarded-Host"),
        )
    except RequestError:
        return json_error(403, "Cross-origin websocket refused: its Origin is not allowed.")
    return None


async def _run(handler: Callable[..., Any], takes_socket: bool, sock: Socket) -> None:
    call_args = (sock,) if takes_socket else ()
    if inspect.isasyncgenfunction(handler):
        generator = handler(*call_args)
        try:
            async for item in generator:
                await sock.send(item)
        finally:
            await generator.aclose()
    else:
        await handler(*call_args)


def websocket_route(
    app: Any, path: str, *, allowed_origins: Sequence[str] | str | None = None, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
) -> Callable[[H], H]:
    """Decorate a handler to serve it as a websocket at `path` of `app.server` (a leading "/":
    that path of the server; none: under the app's `routes_pathname_prefix`, like
    `WebSocket(path=...)`). `allowed_origins`: other origins whose pages may connect (default
    the app's `allowed_origins`; "*" any). Client messages above `max_message_size` bytes close
    the connection (1009). When the handler returns, the socket closes with 1000; when it
    raises, with 1011 (logged), and the page reconnects."""
    server = getattr(app, "server", app)
    if not path.startswith("/"):
        path = app.config.routes_pathname_prefix + path

    def decorate(handler: H) -> H:
        if not (inspect.isasyncgenfunction(handler) or inspect.iscoroutinefunction(handler)):
            raise TypeError("websocket_route decorates an async generator or an `async def` handler.")
        takes_socket = bool(inspect.signature(handler).parameters)

        async def view() -> Response | None:
            refusal = _origin_refusal(app, allowed_origins)
            if refusal is not None:
                return refusal
            await websocket.accept()
            sock = Socket(websocket, max_message_size)
            reader = asyncio.ensure_future(sock._read())
            try:
                await _run(handler, takes_socket, sock)
                await sock.close(1000)
            except SocketClosed:
                pass
            except Exception:
                logger.exception("websocket handler for %s failed", path)
                await sock.close(1011, "internal error")
            finally:
                reader.cancel()
            return None

        server.add_websocket(path, endpoint=f"flash_websocket:{path}", view_func=view)
        return handler

    return decorate
