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
import inspect
import json
import re
import typing
from typing import TYPE_CHECKING, Any, AsyncIterator

from quart import Response, request

from ...server.errors import RequestError
from ...server.jsonfast import dumps
from ...server.sse import HEARTBEAT
from ..declare.spec import EventCallbackSpec
from ..run.runs import StreamRun
from .admission import check_room_for_downlink, client_address
from .downlink import Listener
from .endpoint import SSE_CONTENT_TYPE, SSE_HEADERS, start_run

if TYPE_CHECKING:
    from ..host import StreamHost

DEFAULT_MAX_RUNS = 16  # stream tool calls running at once on one worker
_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean", list: "array", dict: "object", tuple: "array"}
INVALID_PARAMS, SERVER_BUSY, TOOL_FAILED = -32602, -32000, -32603


def _sanitize(name: str) -> str:
    cleaned = re.sub(r"_+", "_", re.sub(r"[^a-zA-Z0-9_]", "_", name)).strip("_") or "stream"
    return ("cb_" + cleaned if cleaned[0].isdigit() else cleaned)[:56]


def _dep_name(dep: Any) -> str:
    cid = dep.component_id
    shown = json.dumps(cid, sort_keys=True) if isinstance(cid, dict) else repr(cid)
    return f"{type(dep).__name__}({shown}, {dep.component_property!r})"


def _id_key(component_id: Any) -> str:
    """A component id as a JSON object key (Dash's form for a pattern-matching id)."""
    if isinstance(component_id, dict):
        return json.dumps(component_id, sort_keys=True, separators=(",", ":"))
    return str(component_id)


def _schema_of(annotation: Any) -> tuple[dict[str, Any], bool]:
    """A JSON schema for a parameter's annotation, and whether it may be null."""
    if annotation is None:
        return {}, True
    args = typing.get_args(annotation)
    if type(None) in args:  # Optional[X] / X | None
        rest = [arg for arg in args if arg is not type(None)]
        schema, _ = _schema_of(rest[0]) if len(rest) == 1 else ({}, True)
        return schema, True
    json_type = _JSON_TYPES.get(typing.get_origin(annotation) or annotation)
    return ({"type": json_type} if json_type else {}), annotation is Any


class StreamTool:
    """One stream as a tool: its name, and how tool arguments become the start body."""

    def __init__(self, name: str, spec: EventCallbackSpec) -> None:
        self.name, self.spec = name, spec
        deps = [*spec.inputs, *spec.states]
        try:
            params = list(inspect.signature(spec.func).parameters)
        except (TypeError, ValueError):
            params = []
        self.params = [params[i] if i < len(params) else f"param_{i}" for i in range(len(deps))]
        try:
            hints = typing.get_type_hints(spec.func)
        except Exception:  # unresolvable annotations
            hints = {}
        self.hints = [hints.get(name) for name in self.params]
        self.deps = deps

    def as_tool(self) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required = []
        for dep, name, hint in zip(self.deps, self.params, self.hints, strict=True):
            typed, nullable = _schema_of(hint)
            wildcard = isinstance(dep.component_id, dict) and dep.has_wildcard()
            how = (
                " A pattern-matching dependency: give Dash's entries, a list of {id, property, value} (one object for MATCH)."
                if wildcard
                else ""
            )
            properties[name] = {**typed, "description": f"{_dep_name(dep)}.{how}"}
            if hint is not None and not nullable:
                required.append(name)
        doc = (self.spec.func.__doc__ or "").strip()
        kind = "streaming callback" if self.spec.outputs is not None else "event callback"
        description = (f"{doc}\n\n" if doc else f"The {kind} '{self.spec.func.__name__}'. ") + (
            "A stream: each frame it yields arrives as a progress notification (its updates as "
            "JSON: {component_id: {prop: value}}); the result holds the last frame's updates "
            "('response') and every prop's final value ('props'). Cancelling the call stops it."
        )
        schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
        if required:
            schema["required"] = required
        return {"name": self.name, "description": description, "inputSchema": schema}

    def start_body(self, arguments: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(arguments) - set(self.params))
        if unknown:
            raise ValueError(
                f"Unknown argument(s) for {self.name}: {', '.join(unknown)}; it takes {', '.join(self.params) or 'none'}."
            )
        missing = [
            name
            for name, hint in zip(self.params, self.hints, strict=True)
            if hint is not None and not _schema_of(hint)[1] and name not in arguments
        ]
        if missing:
            raise ValueError(f"Missing argument(s) for {self.name}: {', '.join(missing)}.")
        entries = [self._entry(dep, arguments.get(name)) for dep, name in zip(self.deps, self.params, strict=True)]
        first = self.spec.inputs[0]
        trigger = f"{_id_key(first.component_id)}.{first.component_property}"
        return {
            "inputs": entries[: len(self.spec.inputs)],
            "state": entries[len(self.spec.inputs) :],
            "changedPropIds": [] if isinstance(first.component_id, dict) else [trigger],
        }

    @staticmethod
    def _entry(dep: Any, value: Any) -> Any:
        if isinstance(dep.component_id, dict) and dep.has_wildcard():
            if isinstance(value, list) or (isinstance(value, dict) and "id" in value):
                return value  # Dash's own form, as the page sends it
            raise ValueError(
                f"{_dep_name(dep)} is a pattern-matching dependency: give a list of "
                "{id, property, value} entries (one object for MATCH)."
            )
        return {"id": dep.component_id, "property": dep.component_property, "value": value}


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
                _sanitize(getattr(getattr(info.get("callback"), "__wrapped__", None), "__name__", "") or "")
                for info in self.app.callback_map.values()
            }
            named: dict[str, StreamTool] = {}
            for spec in specs:
                name = _sanitize(spec.func.__name__)
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
        merged.setdefault(_id_key(component_id), {}).update(values)
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
