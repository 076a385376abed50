"""The stream route on Flash's direct ASGI path: the SSE response written straight to the server.

Quart would hold a request, its headers and body events, two contexts, two tasks and a Response
wrapper for every open stream; here an open stream is its run, its listener and one small task
that watches for the client going away.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Callable

from ..server.fastpath import DirectRoute, Receive, Send, direct_path
from .endpoint import SSE_HEADERS, open_run
from .runs import Listener

if TYPE_CHECKING:
    from ..app import Flash

logger = logging.getLogger("flash.streaming")
_START_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8")] + [
    (name.lower().encode(), value.encode()) for name, value in SSE_HEADERS.items()
]


async def _cut_on_disconnect(receive: Receive, listener: Listener) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    listener.cut_now()


def make_stream_handler(app: "Flash") -> Callable[..., Any]:
    async def stream(data: bytes, stream_id: str, receive: Receive, send: Send) -> None:
        run, last_seq, opening = open_run(app, stream_id, data)  # RequestError -> a 4xx answer
        listener = Listener()
        watcher = asyncio.ensure_future(_cut_on_disconnect(receive, listener))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": _START_HEADERS})
            await send({"type": "http.response.body", "body": opening, "more_body": True})
            async for chunk in run.listen(last_seq, app.stream_heartbeat, listener):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the connection went away mid-write; the run pauses for a reconnect
        except Exception:  # pylint: disable=broad-except  # the answer has begun: no error page now
            logger.exception("Stream response for '%s' failed", stream_id)
        finally:
            watcher.cancel()

    return stream


def install_stream_route(app: "Flash", view: Callable[..., Any]) -> None:
    endpoint = app.config.routes_pathname_prefix + "_flash/stream/<string:stream_id>"
    path = app.config.routes_pathname_prefix + "_flash/stream/"
    direct_path(app, app.server).add("stream", DirectRoute(path, endpoint, view, make_stream_handler(app), prefix=True))
