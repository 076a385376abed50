"""An app's streams as MCP tools: what an agent calls to watch an event callback or a streaming
`@callback` run (docs/mcp.md).

Dash's MCP server (`enable_mcp=True`) lists ordinary callbacks; it refuses streams, since a tool
call there answers one JSON result. Flash's MCP POST view (flash/server/mcp.py) hands the
streams' part to `StreamTools`:

- `tools/list`: one tool per stream, named after its function, described by its docstring and
  typed from its Inputs/States (the generator's parameter names, their annotations);
- `tools/call`: starts a run through the stream endpoint's own `start_run` (so admission limits,
  `ctx`, `set_props`, `on_error`, sync generators and PreventUpdate are the page's) on a private
  downlink that only this response listens to, and answers an SSE response: one
  `notifications/progress` per frame (its updates, as JSON, in `message`), then the result (the
  last frame's updates and every prop's final value);
- `notifications/cancelled`, or the response's connection closing, closes the run: its
  generator's `finally` runs, as when a page leaves.

`live` holds the runs answering a `tools/call` now; an entry leaves when its response ends, however
it ends. At most `max_runs` at once per worker (more: a JSON-RPC error the agent can retry).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, AsyncIterator

from quart import Response, request

from ...server.errors import RequestError
from ...server.jsonfast import dumps
from ...server.sse import HEARTBEAT
from ..declare.spec import EventCallbackSpec
from ..run.runs import StreamRun
from .admission import check_room_for_downlink, client_address
from .endpoint import SSE_CONTENT_TYPE, SSE_HEADERS, start_run
from .listener import Listener
from .mcp_schema import StreamTool, id_key, sanitize_name

if TYPE_CHECKING:
    from ..host import StreamHost

DEFAULT_MAX_RUNS = 16  # stream tool calls running at once on one worker
INVALID_PARAMS, SERVER_BUSY, TOOL_FAILED = -32602, -32000, -32603


def _dash_includes_callbacks() -> bool:
    """Dash's `configure_mcp_server(include_callbacks=...)` (default True): Dash keeps it on its
    callback tool provider only. Read defensively: an upgrade that moves it leaves streams shown."""
    try:
        from dash.mcp.primitives.tools.tools_callbacks import CallbackTools
    except ImportError:
        return True
    return bool(getattr(CallbackTools, "callbacks_mcp_enabled_by_default", True))


def _jsonrpc(request_id: Any, **fields: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, **fields}


def _error(request_id: Any, code: int, message: str) -> Response:
    return Response(
        json.dumps(_jsonrpc(request_id, error={"code": code, "message": message})),
        status=200,
        content_type="application/json",
        headers=_session_headers(),
    )


def _session_headers() -> dict[str, str]:
    session = request.headers.get("Mcp-Session-Id")
    return {"Mcp-Session-Id": session} if session else {}


def _message(payload: dict[str, Any]) -> bytes:
    return b"event: message\ndata: " + dumps(payload) + b"\n\n"


class StreamTools:
    """The app's streams as MCP tools (see the module docstring); `flash.server.mcp.MCPStreams`."""

    def __init__(self, app: "StreamHost", max_runs: int = DEFAULT_MAX_RUNS) -> None:
        self.app = app
        self.max_runs = max_runs
        # (session, client address, request id) -> the run answering that tools/call. Removed
        # when its response ends (`_frames`' finally), however it ends, or, for a response whose
        # body never started (the connection went first), by `_unclaimed` a resume window later.
        self.live: dict[tuple[str, str, str], StreamRun] = {}
        self._named: dict[str, StreamTool] = {}
        self._exposed: dict[str, bool] = {}  # stream id or function name -> shown; set by `expose`
        self._specs: tuple[int, ...] = ()

    def expose(self, stream: Any, enabled: bool = True) -> None:
        """Show (or hide) one stream as a tool: `stream` is the decorated function or its name.
        Streams are tools by default, unless Dash's `configure_mcp_server(include_callbacks=False)`
        turned callbacks off (then a stream is a tool only once exposed here)."""
        name = stream if isinstance(stream, str) else getattr(stream, "stream_id", None) or stream.__name__
        self._exposed[name] = bool(enabled)
        self._specs = ()  # rebuilt on the next listing

    def _is_exposed(self, spec: EventCallbackSpec) -> bool:
        for key in (spec.stream_id, spec.func.__name__):
            if key in self._exposed:
                return self._exposed[key]
        return _dash_includes_callbacks()

    def _tools(self) -> dict[str, StreamTool]:
        # A background stream (a Celery job) is not a tool: its run has no handle on this worker
        # for a cancel to close (docs/mcp.md).
        specs = [spec for spec in self.app.streams.values() if not spec.background and self._is_exposed(spec)]
        key = tuple(id(spec) for spec in specs) + (_dash_includes_callbacks(),)
        if key != self._specs:  # streams are taken on the first request, or added late
            taken = {
                sanitize_name(getattr(getattr(info.get("callback"), "__wrapped__", None), "__name__", "") or "")
                for info in self.app.callback_map.values()
            }
            named: dict[str, StreamTool] = {}
            for spec in specs:
                name = sanitize_name(spec.func.__name__)
                if name in taken or name in named:
                    name = f"{name}_{spec.stream_id[:8]}"
                named[name] = StreamTool(name, spec)
            self._named, self._specs = named, key
        return self._named

    def tools(self) -> list[dict[str, Any]]:
        return [tool.as_tool() for tool in self._tools().values()]

    def is_tool(self, name: Any) -> bool:
        return isinstance(name, str) and name in self._tools()

    def live_runs(self) -> list[StreamRun]:
        return list(self.live.values())

    def _key(self, request_id: Any) -> tuple[str, str, str]:
        return (request.headers.get("Mcp-Session-Id", ""), client_address(), json.dumps(request_id))

    def cancelled(self, message: dict[str, Any]) -> None:
        params = message.get("params")
        if isinstance(params, dict) and "requestId" in params:
            run = self.live.get(self._key(params["requestId"]))
            if run is not None and not run.finished:
                run.close()

    async def call(self, message: dict[str, Any]) -> Response:
        request_id = message.get("id")
        if not isinstance(request_id, (str, int)) or isinstance(request_id, bool):
            raise RequestError("A tools/call must be a JSON-RPC request with a string or integer id.")
        params = message["params"]
        tool = self._tools()[params["name"]]
        arguments = params.get("arguments") or {}
        meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
        progress = meta.get("progressToken")
        if not isinstance(arguments, dict):
            return _error(request_id, INVALID_PARAMS, "'arguments' must be an object.")
        try:
            body = tool.start_body(arguments)
        except ValueError as exc:
            return _error(request_id, INVALID_PARAMS, str(exc))
        key = self._key(request_id)
        if len(self.live) >= self.max_runs:
            return _error(
                request_id,
                SERVER_BUSY,
                f"This server runs the most stream tool calls it may at once ({self.max_runs}); try again later.",
            )
        if key in self.live:
            return _error(request_id, INVALID_PARAMS, "A stream tool call with this request id is running.")
        app = self.app
        if app.stream_runs.closing:
            return _error(request_id, SERVER_BUSY, "This server is shutting down; call the tool again.")
        check_room_for_downlink(app, client_address())  # each call holds a downlink while it runs
        downlink = app.stream_runs.open(*app.stream_signer.new_downlink(), client_address())
        downlink.private = True  # nobody resumes it: when its response ends, its run closes
        body["downlink"] = downlink.token
        try:
            if app.stream_runs.bus is not None:
                await app.stream_runs.bus.hold(downlink.downlink_id)
            started = await start_run(app, tool.spec.stream_id, dumps(body))
        except BaseException:
            app.stream_runs.forget(downlink)
            raise
        run_id = started.handle.split(".", 1)[0]
        run = downlink.runs.get(run_id) or app.stream_runs.live_run(run_id)
        listener = Listener()
        chunks = downlink.listen(lambda: b"", app.stream_heartbeat, listener)
        if run is not None:
            self.live[key] = run
            # A connection that goes before its body starts never runs the body's `finally`: this
            # closes the run then (after the resume window, as for a page that never came back).
            unclaimed = asyncio.get_running_loop().call_later(app.stream_runs.resume_window, self._unclaimed, key, run)
        else:
            unclaimed = None
        response = Response(
            self._frames(key, run, run_id, chunks, request_id, progress, unclaimed),
            status=200,
            content_type=SSE_CONTENT_TYPE,
            headers={**SSE_HEADERS, **_session_headers()},
        )
        response.timeout = None  # a stream may run as long as its generator
        return response

    def _unclaimed(self, key: tuple[str, str, str], run: StreamRun) -> None:
        if self.live.get(key) is run:
            del self.live[key]
        if not run.finished:
            run.close()

    async def _frames(
        self,
        key: tuple[str, str, str],
        run: StreamRun | None,
        run_id: str,
        chunks: AsyncIterator[bytes],
        request_id: Any,
        progress: Any,
        unclaimed: asyncio.TimerHandle | None,
    ) -> AsyncIterator[bytes]:
        """The response body: a progress notification per frame, then the result. Ends (closing the
        run) when the run ends, the agent cancels, or the connection goes."""
        if unclaimed is not None:
            unclaimed.cancel()
        task = asyncio.current_task()
        count, last, props = 0, {}, {}  # type: ignore[var-annotated]
        try:
            async for chunk in chunks:
                if chunk == HEARTBEAT:
                    yield chunk
                    continue
                for event, data in _events(chunk, run_id):
                    if event == "props":
                        count += 1
                        last = _updates(data)
                        for cid, values in last.items():
                            props.setdefault(cid, {}).update(values)
                        if progress is not None:
                            yield _message(
                                {
                                    "jsonrpc": "2.0",
                                    "method": "notifications/progress",
                                    "params": {
                                        "progressToken": progress,
                                        "progress": count,
                                        "message": dumps(last).decode("utf-8"),
                                    },
                                }
                            )
                        continue
                    if event == "done" and data.get("closed"):
                        if self.app.stream_runs.closing:  # the worker stops: the agent calls again
                            yield _message(
                                _jsonrpc(
                                    request_id,
                                    error={"code": SERVER_BUSY, "message": "This server is shutting down; call the tool again."},
                                )
                            )
                        return  # cancelled: MCP sends no result for a cancelled request
                    yield _message(_jsonrpc(request_id, result=_result(event, data, last, props, count)))
                    return
                if task is not None and task.cancelling():
                    return  # the connection went (see endpoint.quart_events)
        finally:
            if self.live.get(key) is run:
                del self.live[key]
            if run is not None and not run.finished:
                run.close()  # its generator's `finally` runs in its pump task
            await chunks.aclose()  # type: ignore[attr-defined]  # detaches: the private downlink goes


def _events(chunk: bytes, run_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The run's events in a downlink chunk (one or more `event:`/`data:` blocks)."""
    found = []
    for block in chunk.split(b"\n\n"):
        event, data = "", b""
        for line in block.split(b"\n"):
            if line.startswith(b"event: "):
                event = line[7:].decode("utf-8")
            elif line.startswith(b"data: "):
                data = line[6:]
        if event and data:
            message = json.loads(data)
            if isinstance(message, dict) and message.get("run") == run_id:
                found.append((event, message.get("data") or {}))
    return found


def _updates(updates: Any) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for component_id, values in updates or []:
        merged.setdefault(id_key(component_id), {}).update(values)
    return merged


def _result(event: str, data: dict[str, Any], last: Any, props: Any, count: int) -> dict[str, Any]:
    if event == "done":
        answer = {"response": last, "props": props, "frames": count}
        return {
            "content": [{"type": "text", "text": dumps(answer).decode("utf-8")}],
            "structuredContent": answer,
            "isError": False,
        }
    why = (
        "The run was lost (its worker stopped); call the tool again."
        if event == "gone"
        else str(data.get("message") or "The stream failed.")
    )
    answer = {"error": why, "response": last, "props": props, "frames": count}
    if data.get("traceback"):
        answer["traceback"] = data["traceback"]
    return {"content": [{"type": "text", "text": dumps(answer).decode("utf-8")}], "structuredContent": answer, "isError": True}
