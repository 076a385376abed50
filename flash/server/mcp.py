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
"""
from __future__ import annotations

import asyncio
import inspect
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Callable

from quart import request

from ..compat.dash import mcp_message_handler, mcp_url
from .body import parse_json_body, read_request_body
from .errors import RequestError
from .guard import check_content_type, check_origin
from .threads import run_in_thread

if TYPE_CHECKING:
    from ..app import Flash

# True while Dash's MCP handler runs a message (in the pool): callbacks Dash runs then are MCP
# tool calls (or the initial-value runs behind `tools/list`), not a browser's.
IN_MCP: ContextVar[bool] = ContextVar("flash_in_mcp", default=False)


def install_mcp(app: "Flash") -> bool:
    """Replace Dash's MCP POST view with Flash's (after Dash's `_setup_routes` registered it);
    whether the app has an MCP server. Raises if Dash's view is not what Flash knows."""
    url = mcp_url(app)
    if url is None:
        return False
    endpoint = f"{url}:POST"
    dash_view = app.server.view_functions.get(endpoint)
    if dash_view is None:  # Dash failed to start it (it logged why) or an older layout of routes
        return False
    handle = mcp_message_handler(dash_view)
    if handle is None:
        raise RuntimeError("Flash cannot serve this Dash's MCP server: its POST view no longer keeps "
                           "`_handle_mcp_request` (see flash/compat/dash.py, mcp_message_handler).")
    app.server.view_functions[endpoint] = _make_post_view(app, handle)
    return True


def _make_post_view(app: "Flash", handle: Callable[[Any], Any]) -> Callable[[], Any]:
    async def mcp_post() -> Any:
        """Dash's MCP POST, checked on the loop, run in the pool."""
        check_content_type(request.headers.get("Content-Type"))
        check_origin(app.limits, request.headers.get("Origin"), request.headers.get("Host"),
                     request.headers.get("X-Forwarded-Host"))
        message = parse_json_body(await read_request_body(), "MCP message", app.limits.max_json_depth)
        if not isinstance(message, dict):
            # Dash answers one JSON-RPC message per POST (no batches, as the 2025-06-18 spec).
            raise RequestError("An MCP request body must be one JSON-RPC message (a JSON object).")
        token = IN_MCP.set(True)
        try:
            return await run_in_thread(app.backend.executor, handle, message)
        finally:
            IN_MCP.reset(token)

    return mcp_post


def execute_for_mcp(app: "Flash", call: Callable[[], Any]) -> Callable[[], Any]:
    """`call` (Dash's prepared callback) as Dash's MCP server needs it: a sync call returning the
    response. Outside an MCP message, `call` itself (Flash's dispatch awaits what it returns)."""
    if not IN_MCP.get():
        return call

    def run() -> Any:
        result = call()
        if not inspect.isawaitable(result):
            return result
        loop = app._serving_loop  # pylint: disable=protected-access  # (Flash's own attribute)
        if loop is not None and loop.is_running():
            # In a pool thread: the callback runs on the loop that serves the app (its async
            # clients live there), with this thread's contextvars (call_soon_threadsafe copies them).
            return asyncio.run_coroutine_threadsafe(_awaited(result), loop).result()
        return asyncio.run(_awaited(result))

    return run


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
