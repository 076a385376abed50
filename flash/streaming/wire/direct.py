"""The stream routes on Flash's direct ASGI path: answers written straight to the server.

Quart would hold a request, its headers and body events, two contexts, two tasks and a Response
wrapper for the whole life of an open downlink; here a downlink is its listener and one small
task that watches for the browser going away.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Callable

from werkzeug.exceptions import RequestEntityTooLarge

from ...server.deferred import read_body
from ...server.direct import DirectRoute, Receive, Send, direct_path
from .admission import own_start_limit, start_too_large
from .downlink import Downlink
from .endpoint import SSE_CONTENT_TYPE, SSE_HEADERS, close_runs, open_downlink, start_run
from .listener import Listener

if TYPE_CHECKING:
    from ..host import StreamHost

logger = logging.getLogger("flash.streaming")
_START_HEADERS = [(b"content-type", SSE_CONTENT_TYPE.encode())] + [
    (name.lower().encode(), value.encode()) for name, value in SSE_HEADERS.items()
]


async def _cut_on_disconnect(receive: Receive, listener: Listener) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    listener.cut_now()


async def send_downlink(
    app: "StreamHost", downlink: Downlink, opening: Callable[[], bytes], receive: Receive, send: Send
) -> None:
    """Write a downlink's SSE response until the browser goes away or the response is cut."""
    listener = Listener()
    watcher = asyncio.ensure_future(_cut_on_disconnect(receive, listener))
    try:
        await send({"type": "http.response.start", "status": 200, "headers": _START_HEADERS})
        async with aclosing(downlink.listen(opening, app.stream_heartbeat, listener)) as chunks:
            async for chunk in chunks:
                if listener.cut and watcher.done():
                    break  # the browser is gone: write nothing more into its socket
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if not watcher.done() and not listener.stalled:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:
        pass  # the connection went away mid-write; the downlink waits for a reconnect
    except asyncio.CancelledError:
        # Our own cancel (see Listener.stall), and no other: the reader stopped reading. End the
        # response unfinished; the server closes the connection (a final write would wait again).
        task = asyncio.current_task()
        if not listener.stalled or task is None or task.uncancel() > 0:
            raise
    except Exception:  # the answer has begun: no error page now
        logger.exception("Downlink response failed")
    finally:
        watcher.cancel()


def make_downlink_handler(app: "StreamHost") -> Callable[..., Any]:
    async def downlink(data: bytes, _tail: str, receive: Receive, send: Send) -> None:
        opened, opening = await open_downlink(app, data)  # RequestError -> a 4xx answer
        await send_downlink(app, opened, opening, receive, send)

    return downlink


def install_stream_routes(app: "StreamHost", views: tuple[Any, Any, Any]) -> None:
    downlink_view, start_view, close_view = views
    prefix = app.config.routes_pathname_prefix
    routes = direct_path(app, app.server)

    async def start(data: bytes, tail: str, receive: Receive, send: Send) -> Any:
        started = await start_run(app, tail, data)
        if not started.private:
            return started.answer()
        await send_downlink(app, started.downlink, started.opening, receive, send)
        return None

    async def close(data: bytes, _tail: str, _receive: Receive, _send: Send) -> Any:
        return await close_runs(app, data)

    async def read_start(scope: Any, receive: Receive) -> bytes:
        """A start body, refused (413) once it passes `max_stream_start_bytes`, before the rest is read."""
        config = app.server.config
        limit = own_start_limit(app)
        if limit is None:  # max_request_size is lower: Quart's own 413
            return await read_body(scope, receive, config["MAX_CONTENT_LENGTH"], config["BODY_TIMEOUT"])
        try:
            return await read_body(scope, receive, limit, config["BODY_TIMEOUT"])
        except RequestEntityTooLarge:
            raise start_too_large(app) from None

    routes.add(
        "downlink",
        DirectRoute(
            prefix + "_flash/downlink", prefix + "_flash/downlink", downlink_view, make_downlink_handler(app), prefix=False
        ),
    )
    routes.add(
        "stream",
        DirectRoute(
            prefix + "_flash/stream/",
            prefix + "_flash/stream/<string:stream_id>",
            start_view,
            start,
            prefix=True,
            read=read_start,
        ),
    )
    routes.add("close", DirectRoute(prefix + "_flash/close", prefix + "_flash/close", close_view, close, prefix=False))
