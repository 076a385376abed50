"""The stream routes (see docs/streaming-protocol.md):

- ``POST _flash/downlink`` opens (or resumes) the browser's one SSE downlink;
- ``POST _flash/stream/<stream_id>`` starts a run on a downlink and answers its signed handle;
- ``POST _flash/close`` closes runs of a downlink.

The checks and state changes live here once; `direct.py` (the direct ASGI path) and the Quart
views below only differ in how the bytes reach the socket.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

import orjson
from quart import Response, request

from ...compat.dash import callback_args
from ...server.body import check_dependency_list, parse_json_body, read_request_body
from ...server.context import CallbackAnswer
from ...server.errors import RequestError
from ...server.guard import check_request_headers
from ...server.sse import encode_event, encode_run_event
from ..run.pump import pump
from ..run.runs import StreamRun
from . import jobs
from .admission import (
    charge_start,
    check_room_for_downlink,
    check_room_for_run,
    check_start_size,
    client_address,
    close_list,
    drop_start_body,
)
from .downlink import Downlink
from .listener import Listener

if TYPE_CHECKING:
    from ..bus.stream_bus import StreamBus
    from ..host import StreamHost

logger = logging.getLogger("flash.streaming")
SSE_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
    "Connection": "keep-alive",
}
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
MAX_RUNS_PER_REQUEST = 10_000  # a resume's list (a close's: admission.close_list)


def _json_object(app: "StreamHost", data: bytes, what: str) -> dict[str, Any]:
    body = parse_json_body(data, what, app.limits.max_json_depth)
    if not isinstance(body, dict):
        raise RequestError(f"The {what} must be a JSON object.")
    return body


def _owned_downlink(app: "StreamHost", body: dict[str, Any]) -> Downlink:
    downlink_id = app.stream_signer.read_downlink(body.get("downlink"))
    if downlink_id is None:
        raise RequestError("'downlink' is missing or is not a downlink token this server issued.", status=403)
    downlink = app.stream_runs.get(downlink_id)
    if downlink is None:
        raise RequestError("The downlink is gone (closed, expired or on another server); open a new one.", status=409)
    return downlink


class Started:
    """A run just started: answered as JSON `{"run": handle}` when its downlink is open on this
    worker; otherwise (`private`) the answer is itself an SSE response that carries the runs this
    worker starts for that browser (another worker holds its downlink, or the downlink expired)."""

    __slots__ = ("handle", "downlink", "private")

    def __init__(self, handle: str, downlink: Downlink, private: bool) -> None:
        self.handle, self.downlink, self.private = handle, downlink, private

    def answer(self) -> CallbackAnswer:
        return CallbackAnswer(orjson.dumps({"run": self.handle}))

    def opening(self) -> bytes:
        hello = encode_event("hello", {"downlink": self.downlink.token, "resumed": False, "private": True})
        started = encode_event("started", {"run": self.handle})
        # Every run this worker started for the browser so far (more starts may have landed here
        # before this answer attached): none of their messages has been sent yet.
        replay = [chunk for run in self.downlink.runs.values() for chunk in run.replay_after(0)]
        return hello + started + b"".join(replay)


def _bus_unreachable(exc: Exception, bus: "StreamBus | None") -> RequestError:
    if bus is not None:
        bus.storage.outage.failed(exc, "answering a stream request (503)")  # logged once per outage
    return RequestError("Shared storage is unreachable; try again.", status=503, headers={"Retry-After": "1"})


async def start_run(app: "StreamHost", stream_id: str, data: bytes) -> Started:
    """Start the event callback `stream_id` on the body's downlink."""
    spec = app.streams.get(stream_id)
    if spec is None:
        raise RequestError("Unknown stream.", status=404)
    check_start_size(app, data)
    body = _json_object(app, data, "stream request body")
    check_dependency_list(body, "inputs", len(spec.inputs))
    check_dependency_list(body, "state", len(spec.states))
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        raise RequestError("'changedPropIds' must be a list of strings.")
    downlink_id = app.stream_signer.read_downlink(body.get("downlink"))
    if downlink_id is None:
        raise RequestError("'downlink' is missing or is not a downlink token this server issued.", status=403)
    if app.stream_runs.closing:  # the page reconnects (elsewhere) and starts it there
        raise RequestError("This server is shutting down; open a new downlink.", status=409)
    bus = app.stream_runs.bus
    downlink = app.stream_runs.get(downlink_id)
    # Without the bus, this answer becomes the private line; later starts join it. With it, the
    # worker holding the downlink follows this run from Redis, wherever that is.
    private = downlink is None and bus is None
    address = client_address()
    check_room_for_run(app, downlink, address, len(data))
    if downlink is None:
        check_room_for_downlink(app, address)
        downlink = app.stream_runs.open(downlink_id, body["downlink"], address)
        downlink.private = private
    cb_ctx = app.callback_context({**body, "outputs": [], "output": ""})
    args = callback_args(app, cb_ctx)
    drop_start_body()
    run_id, handle = app.stream_signer.new_run(downlink.downlink_id)
    run = StreamRun(run_id, handle, stream_id, downlink, app.stream_replay_size, app.limits.stream_replay_bytes, bus=bus)
    if bus is not None and jobs.runs_as_job(app, spec):
        try:
            await jobs.enqueue(app, bus, run, body)
        except Exception as exc:  # Redis or the broker down
            raise _bus_unreachable(exc, bus) from exc
        return Started(handle, downlink, private)
    # Registered before the start is announced, so a holder on this worker that learns of the
    # run finds it live here and takes its messages from memory (lane.py).
    app.stream_runs.add_run(run)
    try:
        if bus is not None:
            await bus.announce_start(run, spec.restart_on_worker_loss)
    except Exception as exc:  # Redis down
        app.stream_runs.drop_run(run)
        if not downlink.runs and downlink.listener is None:
            app.stream_runs.forget(downlink)
        raise _bus_unreachable(exc, bus) from exc
    except BaseException:  # the start was cancelled mid-announce (the page may know of the run)
        run.close()  # its pump, below, tells the page it closed and ends it
        raise
    finally:
        # A run still registered gets its pump task, whose one try/finally ends it (pump.py).
        if app.stream_runs.live_run(run.run_id) is run:
            run.task = asyncio.get_running_loop().create_task(pump(app, spec, run, cb_ctx, args))
    charge_start(app, run, len(data))  # until the pump task ends
    return Started(handle, downlink, private)


async def close_runs(app: "StreamHost", data: bytes) -> CallbackAnswer:
    """Close the listed runs of the body's downlink; nothing changes unless every handle is its."""
    body = _json_object(app, data, "close request body")
    bus = app.stream_runs.bus
    if bus is not None:
        return await _close_anywhere(app, bus, body)
    downlink = _owned_downlink(app, body)
    handles = close_list(app, body.get("runs"))
    run_ids = _run_ids(app, handles, downlink.downlink_id)
    closed = 0
    unknown = []  # not here: on another worker (without shared storage), or long gone
    for handle, run_id in zip(handles, run_ids):
        run = downlink.runs.get(run_id)
        if run is None:
            unknown.append(handle)
        elif not run.finished:
            run.close()
            closed += 1
    return CallbackAnswer(orjson.dumps({"closed": closed, "unknown": unknown}))


def _run_ids(app: "StreamHost", handles: list[str], downlink_id: str) -> list[str]:
    run_ids = [app.stream_signer.read_run(handle, downlink_id) for handle in handles]
    if any(run_id is None for run_id in run_ids):
        raise RequestError("'runs' holds a handle that is not a run of this downlink.", status=403)
    return run_ids  # type: ignore[return-value]


async def _close_anywhere(app: "StreamHost", bus: StreamBus, body: dict[str, Any]) -> CallbackAnswer:
    """With the bus: close the runs running here, ask every other worker to close the rest."""
    downlink_id = app.stream_signer.read_downlink(body.get("downlink"))
    if downlink_id is None:
        raise RequestError("'downlink' is missing or is not a downlink token this server issued.", status=403)
    run_ids = _run_ids(app, close_list(app, body.get("runs")), downlink_id)
    here = [run_id for run_id in run_ids if app.stream_runs.live_run(run_id) is not None]
    closed = bus.close_local(here)
    elsewhere = [run_id for run_id in run_ids if run_id not in here]
    try:
        await bus.broadcast_close(elsewhere)
    except Exception as exc:
        raise _bus_unreachable(exc, bus) from exc
    return CallbackAnswer(orjson.dumps({"closed": closed, "forwarded": len(elsewhere), "unknown": []}))


def _resume_list(app: "StreamHost", body: dict[str, Any], downlink_id: str | None) -> list[tuple[str, int]]:
    runs = body.get("runs", {})
    if not isinstance(runs, dict) or len(runs) > MAX_RUNS_PER_REQUEST:
        raise RequestError(
            f"'runs' must be an object of at most {MAX_RUNS_PER_REQUEST} run handles mapped to the last sequence id received."
        )
    if runs and downlink_id is None:
        raise RequestError("'runs' can only be resumed on the downlink that started them.")
    wanted = []
    for handle, last in runs.items():
        if not isinstance(last, int) or isinstance(last, bool) or last < 0:
            raise RequestError("Each entry of 'runs' must map a run handle to a non-negative integer.")
        run_id = app.stream_signer.read_run(handle, downlink_id)  # type: ignore[arg-type]
        if run_id is None:
            raise RequestError("'runs' holds a handle that is not a run of this downlink.", status=403)
        wanted.append((run_id, last))
    return wanted


async def open_downlink(app: "StreamHost", data: bytes) -> tuple[Downlink, Callable[[], bytes]]:
    """The downlink the body names (or a new one) and what makes the bytes that open its response:
    `hello`, then every listed run's missed messages, or `gone` for a run that cannot be resumed.
    Those bytes are made when the response attaches (`Downlink.listen`), not here: a run that
    publishes in between (the answer passes through hooks first) would otherwise be lost."""
    body = _json_object(app, data, "downlink request body")
    token = body.get("downlink")
    if token is not None and not isinstance(token, str):
        raise RequestError("'downlink' must be a downlink token or null.")
    downlink_id = app.stream_signer.read_downlink(token) if token is not None else None
    if token is not None and downlink_id is None:
        raise RequestError("'downlink' is not a downlink token this server issued.", status=403)
    wanted = _resume_list(app, body, downlink_id)
    if app.stream_runs.closing:
        raise RequestError("This server is shutting down; try again.", status=503, headers={"Retry-After": "1"})
    if app.stream_runs.bus is not None:
        return await _open_on_bus(app, app.stream_runs.bus, token, downlink_id, wanted)
    downlink = app.stream_runs.get(downlink_id) if downlink_id else None
    resumed = downlink is not None
    if downlink is None:
        address = client_address()
        check_room_for_downlink(app, address)
        downlink = app.stream_runs.open(*app.stream_signer.new_downlink(), address)
    opened = downlink

    def opening() -> bytes:
        parts = [encode_event("hello", {"downlink": opened.token, "resumed": resumed})]
        listed = {run_id for run_id, _ in wanted}
        for run in list(opened.runs.values()) if resumed else []:
            if run.run_id not in listed and not run.finished:
                # Started while the browser reconnected: it may not know the handle yet.
                if run.can_resume(0):
                    parts.extend(run.replay_after(0))
                else:  # its first messages left the replay buffer: the page starts it over
                    run.close()
                    parts.append(encode_run_event("gone", run.run_id, 0, {}))
        for run_id, last in wanted:
            known = opened.runs.get(run_id) if resumed else None
            if known is not None and known.can_resume(last):
                parts.extend(known.replay_after(last))
            else:
                if known is not None:
                    known.close()  # too far behind to replay: the page starts it over
                parts.append(encode_run_event("gone", run_id, last, {}))
        return b"".join(parts)

    return downlink, opening


async def _open_on_bus(
    app: "StreamHost", bus: StreamBus, token: str | None, downlink_id: str | None, wanted: list[tuple[str, int]]
) -> tuple[Downlink, Callable[[], bytes]]:
    """With the bus any worker serves a downlink that is still alive (or in its resume window):
    its follower replays each listed run from Redis after the page's last id."""
    try:
        downlink = app.stream_runs.get(downlink_id) if downlink_id else None
        resumed = downlink is not None or (downlink_id is not None and await bus.is_held(downlink_id))
        if downlink is None:
            address = client_address()
            check_room_for_downlink(app, address)
            if resumed:
                downlink = app.stream_runs.open(downlink_id, token, address)  # type: ignore[arg-type]
            else:
                downlink = app.stream_runs.open(*app.stream_signer.new_downlink(), address)
        await bus.hold(downlink.downlink_id)
    except RequestError:
        raise
    except Exception as exc:  # Redis down
        raise _bus_unreachable(exc, bus) from exc
    opened = downlink
    gone = [] if resumed else wanted  # a new downlink: the listed runs start over
    opened.resume_plan = dict(wanted) if resumed else {}

    def opening() -> bytes:
        hello = encode_event("hello", {"downlink": opened.token, "resumed": resumed})
        return hello + b"".join(encode_run_event("gone", run_id, last, {}) for run_id, last in gone)

    return downlink, opening


async def quart_events(app: "StreamHost", downlink: Downlink, opening: Callable[[], bytes]) -> AsyncIterator[bytes]:
    """A downlink's body on the Quart path. Quart cancels the response task when the browser goes
    away, but Hypercorn can swallow that cancellation inside its `send` (while closing the dead
    socket) and the body would go on forever: so after each write, a task asked to cancel stops.
    `aclosing` detaches the listener the moment the body ends, however it ends."""
    task = asyncio.current_task()
    listener = Listener()
    async with aclosing(downlink.listen(opening, app.stream_heartbeat, listener)) as chunks:
        async for chunk in chunks:
            yield chunk
            if task is not None and task.cancelling():
                return


def _sse_response(app: "StreamHost", downlink: Downlink, opening: Callable[[], bytes]) -> Response:
    response = Response(quart_events(app, downlink, opening), status=200, content_type=SSE_CONTENT_TYPE, headers=SSE_HEADERS)
    response.timeout = None  # a downlink may live as long as the page
    return response


def make_stream_views(app: "StreamHost") -> tuple[Any, Any, Any]:
    async def downlink_view() -> Response:
        check_request_headers(app.limits, request.headers)  # in the view: a hook ends the direct path
        downlink, opening = await open_downlink(app, await read_request_body())
        return _sse_response(app, downlink, opening)

    async def start_view(stream_id: str) -> Response:
        check_request_headers(app.limits, request.headers)
        check_start_size(app, declared=request.content_length)  # before reading it
        started = await start_run(app, stream_id, await read_request_body())
        if not started.private:
            return started.answer().to_response()
        return _sse_response(app, started.downlink, started.opening)

    async def close_view() -> Response:
        check_request_headers(app.limits, request.headers)
        return (await close_runs(app, await read_request_body())).to_response()

    return downlink_view, start_view, close_view
