"""The dev tools' Streams panel, server side: this worker's live runs and its last failed ones.

Debug only (``app.run(debug=True)`` / ``enable_dev_tools(debug=True)``): the routes answer 404
otherwise, and a failing run is remembered only then (one check in the pump's error branch).

- ``GET <prefix>_flash/debug/streams``: ``{"worker", "runs": [...], "errors": [...]}``.
- ``POST <prefix>_flash/debug/streams/stop`` with ``{"run": "<run_id>"}``: closes that run
  (its generator's ``finally`` runs), the page gets the run's ``done`` event.

What removes entries: `_FAILED` holds at most `KEEP_FAILED` failures per app (a bounded deque,
oldest dropped first) and goes with its app (a weak key). Live runs are the registry's own.
"""

from __future__ import annotations

import os
import time
import traceback
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any

import orjson
from quart import Response, request

from ...compat.dash import add_url
from ...server.body import parse_json_body, read_request_body
from ...server.errors import RequestError
from ...server.guard import check_request_headers

if TYPE_CHECKING:
    from ..host import StreamHost
    from .runs import StreamRun

KEEP_FAILED = 20  # failed runs kept per app for the panel
MAX_TRACEBACK = 20_000  # characters of one traceback kept
_FAILED: "weakref.WeakKeyDictionary[Any, deque[dict[str, Any]]]" = weakref.WeakKeyDictionary()


def debugging(app: "StreamHost") -> bool:
    """Dev tools / debug on: the same switch that puts tracebacks into error events."""
    return bool(getattr(app.backend, "error_handling_mode", "ignore") != "ignore")


def _name(app: "StreamHost", stream_id: str) -> str:
    spec = app.streams.get(stream_id)
    return str(getattr(spec.func, "__name__", stream_id)) if spec is not None else stream_id


def record_failure(app: "StreamHost", run: "StreamRun", exc: BaseException) -> None:
    """The pump's error branch: remember the failure for the panel (nothing when debug is off)."""
    if not debugging(app):
        return
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    failed = _FAILED.setdefault(app, deque(maxlen=KEEP_FAILED))
    failed.append(
        {
            "run": run.run_id,
            "name": _name(app, run.stream_id),
            "frames": run.seq,
            "message": (str(exc) or repr(exc))[:1000],
            "traceback": text[-MAX_TRACEBACK:],
            "at": time.time(),
        }
    )


def _state(run: "StreamRun") -> str:
    if run.closing:
        return "closing"
    if not run.begun:
        return "starting"
    if run.bus is None and run.downlink.listener is None:
        return "paused"  # its browser is away: it waits for a reconnect (the resume window)
    return "running"


def _describe(app: "StreamHost", run: "StreamRun", now: float) -> dict[str, Any]:
    age = max(now - run.started_at, 0.0)
    listener = run.downlink.listener if run.bus is None else None
    return {
        "run": run.run_id,
        "name": _name(app, run.stream_id),
        "stream": run.stream_id,
        "state": _state(run),
        "frames": run.seq,
        "bytes": run.sent_bytes,
        "age": round(age, 3),
        "rate": round(run.seq / age, 2) if age > 0 else 0.0,
        # lag: what waits in its downlink for the browser to read (all runs of that page)
        "queued": len(listener.pending) if listener is not None else 0,
        "queued_bytes": listener.pending_bytes if listener is not None else 0,
        "downlink": run.downlink.downlink_id[:8],
    }


def snapshot(app: "StreamHost") -> dict[str, Any]:
    now = time.monotonic()
    runs = sorted(app.stream_runs.runs(), key=lambda r: r.started_at)
    return {
        "worker": os.getpid(),
        "runs": [_describe(app, run, now) for run in runs],
        "errors": list(reversed(_FAILED.get(app, ()))),
    }


def _off() -> RequestError:
    return RequestError("Not found.", status=404)


def install_devtools_routes(app: "StreamHost") -> None:
    """Always registered (Dash turns debug on after the routes exist, in `run`); off -> 404."""

    async def streams_view() -> Response:
        if not debugging(app):
            raise _off()
        return Response(orjson.dumps(snapshot(app)), content_type="application/json", headers={"Cache-Control": "no-store"})

    async def stop_view() -> Response:
        if not debugging(app):
            raise _off()
        check_request_headers(app.limits, request.headers)
        body = parse_json_body(await read_request_body(), "stop request body", app.limits.max_json_depth)
        run_id = body.get("run") if isinstance(body, dict) else None
        if not isinstance(run_id, str) or not run_id or len(run_id) > 200:
            raise RequestError("The body must be a JSON object with a 'run' id (a string).")
        run = app.stream_runs.live_run(run_id)
        if run is None:
            raise RequestError("No live run with that id on this worker.", status=404)
        run.close()
        return Response(orjson.dumps({"stopped": True}), content_type="application/json")

    add_url(app, "_flash/debug/streams", streams_view, ["GET"])
    add_url(app, "_flash/debug/streams/stop", stop_view, ["POST"])
