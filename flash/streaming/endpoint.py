"""The stream routes: POST starts (or resumes) a run as an SSE response; DELETE closes one."""
from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from quart import Response, request

from ..server.body import check_dependency_list, parse_json_body
from ..server.errors import RequestError
from .pump import pump
from .runs import StreamRun
from .sse import encode_event

if TYPE_CHECKING:
    from ..app import Flash

_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SSE_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
    "Connection": "keep-alive",
}


def _check_body(body: Any, spec: Any) -> tuple[str, int | None]:
    if not isinstance(body, dict):
        raise RequestError("The stream request body must be a JSON object.")
    check_dependency_list(body, "inputs", len(spec.inputs))
    check_dependency_list(body, "state", len(spec.states))
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        raise RequestError("'changedPropIds' must be a list of strings.")
    run_id = body.get("run")
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise RequestError("'run' must be 1-64 characters of letters, digits, '-' or '_'.")
    last = body.get("lastEventId")
    if last is not None and (not isinstance(last, int) or isinstance(last, bool) or last < 0):
        raise RequestError("'lastEventId' must be a non-negative integer or null.")
    return run_id, last


def _start_run(app: "Flash", spec: Any, run_id: str, body: dict) -> StreamRun:
    # pylint: disable=protected-access
    body = {**body, "outputs": [], "output": ""}
    cb_ctx = app._initialize_context(body)
    args = app._inputs_to_vals(cb_ctx.inputs_list + cb_ctx.states_list)
    run = StreamRun(run_id, spec.stream_id, app.stream_replay_size, app.stream_resume_window)
    app.stream_runs.add(run)
    run.task = asyncio.get_running_loop().create_task(pump(app, spec, run, cb_ctx, args))
    return run


def open_run(app: "Flash", stream_id: str, data: bytes) -> tuple[StreamRun, int, bytes]:
    """Resume the run the body names, or start a new one: the run, the id to replay after and
    the `open` event. Raises RequestError for anything the client got wrong."""
    spec = app.streams.get(stream_id)
    if spec is None:
        raise RequestError(f"Unknown stream '{stream_id}'.", status=404)
    body = parse_json_body(data, "stream request body")
    run_id, last_seq = _check_body(body, spec)
    run = app.stream_runs.get(run_id)
    resumed = run is not None and run.stream_id == stream_id and run.can_resume(last_seq)
    if not resumed:
        run = _start_run(app, spec, run_id, body)
        last_seq = 0
    assert run is not None
    return run, last_seq or 0, encode_event("open", {"run": run_id, "resumed": resumed})


def make_stream_views(app: "Flash") -> tuple[Any, Any]:
    async def start_stream(stream_id: str) -> Response:
        run, last_seq, opening = open_run(app, stream_id, await request.get_data(cache=False))

        async def events() -> Any:
            yield opening
            async for chunk in run.listen(last_seq, app.stream_heartbeat):
                yield chunk

        response = Response(events(), status=200, content_type="text/event-stream", headers=SSE_HEADERS)
        response.timeout = None  # streams may be endless
        return response

    async def close_stream(stream_id: str, run_id: str) -> Response:
        if stream_id not in app.streams:
            raise RequestError(f"Unknown stream '{stream_id}'.", status=404)
        if not _RUN_ID.match(run_id):
            raise RequestError("Invalid run id.")
        closed = app.stream_runs.close(run_id)
        return Response(b'{"closed": %s}' % (b"true" if closed else b"false"), content_type="application/json")

    return start_stream, close_stream
