"""The `_dash-update-component` view: check the body, then run the callback where it belongs.

The steps are Dash's own (`prepare_call`: context, function, arguments, output handling, as
Dash's Quart backend runs them). Flash differs in where the call runs: `async def` callbacks on
the event loop, sync callbacks in the app's thread pool with the request's contextvars copied
(Dash runs them on the loop), so `ctx`, `set_props` and the request work in both. Flash also
checks the body's size, depth and shape first. The same `run_callback` serves Quart's view and
the direct ASGI path (`direct.py`). With metrics on (and opentelemetry-api installed) each request
is one span (flash/metrics/tracing.py); off, that costs one attribute check.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from quart import Response, request

from ..compat.dash import prepare_call
from .body import check_callback_body, decode_body, parse_json_body, read_request_body
from .context import CallbackAnswer
from .guard import check_request_headers
from .threads import run_in_thread

if TYPE_CHECKING:
    from .host import ServerHost


async def run_callback(app: "ServerHost", data: bytes) -> Response | CallbackAnswer:
    """Answer one callback request body: a Response if the callback set cookies or headers, else
    just the JSON bytes. Raises RequestError/PreventUpdate/... for the error handlers."""
    body = parse_json_body(data, "callback request body", app.limits.max_json_depth)
    check_callback_body(body, app.callback_map)
    figures = app.stream_runs.metrics  # None unless metrics are on: then no span, nothing more
    if figures is None or figures.callback_tracer is None:
        return await answer_callback(app, body, None)
    return await figures.callback_tracer.trace(body, lambda span: answer_callback(app, body, span))


async def answer_callback(app: "ServerHost", body: dict[str, Any], span: Any) -> Response | CallbackAnswer:
    """Run the callback of a checked `body`; `span`: its OpenTelemetry span when traced, else None."""
    cb_ctx = app.callback_context(body)
    func, call = prepare_call(app, cb_ctx, body)
    on_loop = inspect.iscoroutinefunction(func)
    if span is not None:
        span.set_attribute("flash.callback.kind", "async" if on_loop else "sync")
    result = await call() if on_loop else await run_in_thread(app.backend.executor, call)
    answer: Response | CallbackAnswer = cb_ctx.dash_response.set_response(data=result)
    return answer


def make_dispatch(app: "ServerHost") -> Callable[[], Awaitable[Any]]:
    async def dispatch() -> Any:
        check_request_headers(app.limits, request.headers)  # here, not in a hook: hooks end the direct path
        data = decode_body(
            await read_request_body(), request.headers.get("Content-Encoding"), app.server.config.get("MAX_CONTENT_LENGTH")
        )
        answer = await run_callback(app, data)
        response = answer.to_response() if isinstance(answer, CallbackAnswer) else answer
        response.timeout = None  # a buffered body: skip Quart's per-response timeout task
        return response

    # Integrations (e.g. CSRF exemptions) key on Dash's historical view name.
    dispatch.__name__ = dispatch.__qualname__ = "dispatch"
    dispatch.__module__ = "dash.dash"
    return dispatch
