"""Whether a worker takes one more downlink or run: the limits that bound its memory whatever
clients send (docs/streaming-protocol.md, "Limits"; the options: `flash/server/limits.py`).

Refusals are JSON errors naming the option, never echoing the request: a per-worker limit is a
503 with `Retry-After` (the worker is full; streams already running go on), a per-client one a
429 (this client holds its share), a start body over `max_stream_start_bytes` a 413.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ...compat.quart import current_request_context
from ...server.deferred import DeferredRequestContext
from ...server.errors import RequestError

if TYPE_CHECKING:
    from ..host import StreamHost
    from ..run.runs import StreamRun
    from .downlink import Downlink


def client_address() -> str:
    """The ASGI client's host for the request being answered ("" when the server gives none).
    Behind a proxy it is the proxy's, unless the server takes it from `X-Forwarded-For`."""
    context = current_request_context()
    if context is None:
        return ""
    scope: Any = getattr(context, "_scope", None)  # the direct path: its request is not built
    if scope is None:
        scope = context.request.scope
    client = scope.get("client")
    return str(client[0]) if client else ""


def _retry_after(app: "StreamHost") -> dict[str, str]:
    # Room frees when a run ends or a downlink's resume window passes.
    return {"Retry-After": str(max(1, math.ceil(app.stream_runs.resume_window)))}


def check_room_for_downlink(app: "StreamHost", address: str) -> None:
    """`max_downlinks`: a new downlink (or private line) beyond it is a 503 the client retries;
    one in its resume window counts (it holds its runs), and frees within that window.
    `max_downlinks_per_address`: one address cannot take them all (429)."""
    limits, registry = app.limits, app.stream_runs
    if len(registry.downlinks) >= limits.max_downlinks:
        raise RequestError(
            f"This server holds the most downlinks it may ({limits.max_downlinks}, max_downlinks); try again later.",
            status=503,
            headers=_retry_after(app),
        )
    if registry.downlinks_of(address) >= limits.max_downlinks_per_address:
        raise RequestError(
            f"This client address holds the most downlinks it may ({limits.max_downlinks_per_address}, "
            "max_downlinks_per_address); close one first.",
            status=429,
            headers=_retry_after(app),
        )


def start_too_large(app: "StreamHost") -> RequestError:
    limit = app.limits.max_stream_start_bytes
    return RequestError(f"The stream start body is larger than {limit} bytes (max_stream_start_bytes).", status=413)


def own_start_limit(app: "StreamHost") -> int | None:
    """`max_stream_start_bytes`, unless the server's `max_request_size` is as low (Quart's 413)."""
    limit = app.limits.max_stream_start_bytes
    server_limit = app.server.config["MAX_CONTENT_LENGTH"]
    return None if server_limit is not None and server_limit <= limit else limit


def check_start_size(app: "StreamHost", data: bytes | None = None, declared: int | None = None) -> None:
    """413 for a start body (or its declared Content-Length) over `max_stream_start_bytes`."""
    limit = own_start_limit(app)
    if limit is not None and ((data is not None and len(data) > limit) or (declared is not None and declared > limit)):
        raise start_too_large(app)


def check_room_for_run(app: "StreamHost", downlink: "Downlink | None", address: str, size: int) -> None:
    """A start of `size` bytes on `downlink` (None: a new one) from `address`: 503 while the
    worker is full (`max_streams`, `stream_start_budget`), 429 while this client holds its share
    (`max_streams_per_client` on one downlink, `max_streams_per_address` over all it opened)."""
    limits, registry = app.limits, app.stream_runs
    if len(registry) >= limits.max_streams:
        raise RequestError(
            f"This server runs the most streams it may at once ({limits.max_streams}, max_streams); try again later.",
            status=503,
            headers=_retry_after(app),
        )
    if registry.start_bytes + size > limits.stream_start_budget:
        raise RequestError(
            f"The streams running on this server hold the most start data they may "
            f"({limits.stream_start_budget} bytes, stream_start_budget); try again later.",
            status=503,
            headers=_retry_after(app),
        )
    if downlink is not None and downlink.live >= limits.max_streams_per_client:
        raise RequestError(
            f"This client already runs the most streams it may at once ({limits.max_streams_per_client}, "
            "max_streams_per_client); stop one first.",
            status=429,
        )
    if registry.live_of(downlink.address if downlink is not None else address) >= limits.max_streams_per_address:
        raise RequestError(
            f"This client address already runs the most streams it may at once "
            f"({limits.max_streams_per_address}, max_streams_per_address); stop one first.",
            status=429,
            headers=_retry_after(app),
        )


def charge_start(app: "StreamHost", run: "StreamRun", size: int) -> None:
    """Count the run's start body against `stream_start_budget` until its pump task ends (the
    task's done callback gives it back: the task is the run's one owner)."""
    task = run.task
    if task is None:
        return
    registry = app.stream_runs
    registry.start_bytes += size

    def give_back(_: Any) -> None:
        registry.start_bytes -= size

    task.add_done_callback(give_back)


def drop_start_body() -> None:
    """The run keeps its parsed inputs (the generator's arguments and `ctx`), not the raw body:
    on the direct path the request context (which `ctx` keeps) holds it until the request is
    built, which a stream seldom needs after its start."""
    context = current_request_context()
    if isinstance(context, DeferredRequestContext):
        context._body = b""


# The browser's hub sends a page's closes in batches of at most this many handles (flash-hub.js
# CLOSE_BATCH), so a close of this size is always accepted, whatever max_streams_per_client says.
CLOSE_BATCH = 256


def close_list(app: "StreamHost", handles: Any) -> list[str]:
    """A close request's handles, each once; at most `max_streams_per_client` (what one
    downlink can run) or CLOSE_BATCH if larger, so one request cannot cost thousands of checks
    or Redis writes."""
    limit = max(app.limits.max_streams_per_client, CLOSE_BATCH)
    if not isinstance(handles, list):
        raise RequestError(f"'runs' must be a list of at most {limit} run handles.")
    if not all(isinstance(h, str) for h in handles):
        raise RequestError("'runs' holds a handle that is not a run of this downlink.", status=403)
    unique = list(dict.fromkeys(handles))
    if len(unique) > limit:
        raise RequestError(
            f"'runs' must name at most {limit} runs (max_streams_per_client, or {CLOSE_BATCH} when that is lower)."
        )
    return unique
