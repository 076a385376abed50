"""Dash's MCP server (`Dash(enable_mcp=True)`, `mcp_enabled=`) served by Flash's Quart app.

Dash registers its MCP routes (Streamable HTTP: POST for JSON-RPC, GET for an empty SSE stream,
DELETE refused) through the backend, so they are on Flash's Quart app as on Dash's. Dash's POST
view, though, runs every tool call on the event loop: its `tools/call` runs the app's callback
there (a sync callback blocks every other request while it runs; Flash keeps sync work off the
loop) and cannot await an `async def` callback (Dash's handler is sync: the coroutine is never run
and the call fails). So Flash replaces that one view with `mcp_post`, which

- checks the request as Flash checks a callback POST (JSON only, `allowed_origins`, size and
  nesting limits: 4xx JSON errors that do not quote the request),
- then runs Dash's own message handler (tools, resources, sessions: all Dash's) in the thread
  pool, where sync callbacks and layouts may block,
- and, while it does, has Flash's `_execute_callback` hand Dash a callable that runs an
  `async def` callback on the serving loop and returns its response (`execute_for_mcp`), as
  `app.get_layout()` runs an async layout from a thread.

Streams (event callbacks and streaming `@callback`s) are tools too, though Dash's handler knows
nothing of them: an `MCPStreams` (flash/streaming/wire/mcp_tools.py; this layer only sees the
protocol) adds them to Dash's `tools/list` answer, answers their `tools/call` itself on the loop
(an SSE response: one `notifications/progress` per frame, then the result) and closes a run on
`notifications/cancelled`. Everything else is Dash's.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Callable, Protocol

from quart import Response, request

from ..compat.dash import mcp_message_handler, mcp_url
from .body import parse_json_body, read_request_body
from .errors import RequestError
from .guard import check_content_type, check_origin
from .threads import run_in_thread

if TYPE_CHECKING:
    from .host import ServerHost

# True while Dash's MCP handler runs a message (in the pool): callbacks Dash runs then are MCP
# tool calls (or the initial-value runs behind `tools/list`), not a browser's.
IN_MCP: ContextVar[bool] = ContextVar("flash_in_mcp", default=False)


class MCPStreams(Protocol):
    """The app's streams as MCP tools (implemented in flash/streaming/wire/mcp_tools.py)."""

    def tools(self) -> list[dict[str, Any]]:
        """`tools/list` entries of the streams (JSON)."""

    def is_tool(self, name: Any) -> bool:
        """Whether `name` is a stream tool (its `tools/call` is the streams', not Dash's)."""

    async def call(self, message: dict[str, Any]) -> Response:
        """Answer a `tools/call` of a stream tool (on the loop, in the request's context)."""

    def cancelled(self, message: dict[str, Any]) -> None:
        """A `notifications/cancelled`: close the run it names, if it is a stream tool's."""


def install_mcp(app: "ServerHost", streams: MCPStreams | None = None) -> bool:
    """Replace Dash's MCP POST view with Flash's (after Dash's `_setup_routes` registered it);
    whether the app has an MCP server. Raises if Dash's view is not what Flash knows.
    `streams`: the app's streams as tools (None: Dash's tools only)."""
    url = mcp_url(app)
    if url is None:
        return False
    endpoint = f"{url}:POST"
    dash_view = app.server.view_functions.get(endpoint)
    if dash_view is None:  # Dash failed to start it (it logged why) or an older layout of routes
        return False
    handle = mcp_message_handler(dash_view)
    if handle is None:
        raise RuntimeError(
            "Flash cannot serve this Dash's MCP server: its POST view no longer keeps "
            "`_handle_mcp_request` (see flash/compat/dash_45.py, mcp_message_handler)."
        )
    app.server.view_functions[endpoint] = _make_post_view(app, handle, streams)
    return True


def _make_post_view(app: "ServerHost", handle: Callable[[Any], Any], streams: MCPStreams | None) -> Callable[[], Any]:
    async def mcp_post() -> Any:
        """Dash's MCP POST, checked on the loop, run in the pool."""
        check_content_type(request.headers.get("Content-Type"))
        check_origin(
            app.limits, request.headers.get("Origin"), request.headers.get("Host"), request.headers.get("X-Forwarded-Host")
        )
        message = parse_json_body(await read_request_body(), "MCP message", app.limits.max_json_depth)
        if not isinstance(message, dict):
            # Dash answers one JSON-RPC message per POST (no batches, as the 2025-06-18 spec).
            raise RequestError("An MCP request body must be one JSON-RPC message (a JSON object).")
        method = message.get("method")
        if streams is not None:
            params = message.get("params")
            if method == "tools/call" and isinstance(params, dict) and streams.is_tool(params.get("name")):
                return await streams.call(message)
            if method == "notifications/cancelled":
                streams.cancelled(message)  # then Dash's (202): a cancel of its own tools is a no-op
        token = IN_MCP.set(True)
        try:
            answer = await run_in_thread(app.backend.executor, handle, message)
        finally:
            IN_MCP.reset(token)
        if streams is not None and method == "tools/list":
            await _add_tools(answer, message.get("id"), streams.tools())
        return answer

    return mcp_post


async def _add_tools(answer: Any, request_id: Any, tools: list[dict[str, Any]]) -> None:
    """Append the stream tools to Dash's `tools/list` answer (one message, or a list when Dash
    also sends its session-recovery notifications), keeping its headers (`Mcp-Session-Id`)."""
    if not tools or not isinstance(answer, Response) or answer.status_code != 200:
        return
    body = json.loads(await answer.get_data())
    for item in body if isinstance(body, list) else [body]:
        result = item.get("result") if isinstance(item, dict) and item.get("id") == request_id else None
        if isinstance(result, dict) and isinstance(result.get("tools"), list):
            known = {tool.get("name") for tool in result["tools"]}
            result["tools"].extend(tool for tool in tools if tool["name"] not in known)
    answer.set_data(json.dumps(body))


def execute_for_mcp(app: "ServerHost", call: Callable[[], Any]) -> Callable[[], Any]:
    """`call` (Dash's prepared callback) as Dash's MCP server needs it: a sync call returning the
    response. Outside an MCP message, `call` itself (Flash's dispatch awaits what it returns)."""
    if not IN_MCP.get():
        return call

    def run() -> Any:
        result = call()
        if not inspect.isawaitable(result):
            return result
        loop = app.serving_loop
        if loop is not None and loop.is_running():
            # In a pool thread: the callback runs on the loop that serves the app (its async
            # clients live there), with this thread's contextvars (call_soon_threadsafe copies them).
            return asyncio.run_coroutine_threadsafe(_awaited(result), loop).result()
        return asyncio.run(_awaited(result))

    return run


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
