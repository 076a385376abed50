"""OpenTelemetry spans, one per stream run and one per ordinary callback request, when metrics are
on and `opentelemetry-api` is installed (the `otel` extra). Like any instrumented library, Flash
only uses the API: the spans go nowhere (a non-recording span, a few microseconds per run or
request, nothing per frame) until the app configures an SDK and an exporter. Metrics off: no span
is ever made (the hooks stop at one attribute check).

A run's span is the current span while its generator runs (attached in the pump task, whose
context its sync steps' threads copy), so spans the generator makes are its children. A callback
request's span is current while the callback runs, on the loop or in its pool thread (which
copies the request's context), so it is the child of an HTTP server span (ASGI instrumentation)
and the parent of the callback's own spans.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, TypeVar

from dash.exceptions import PreventUpdate
from werkzeug.exceptions import HTTPException

from ..server.errors import RequestError

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode
except ImportError:  # the API is not installed: no spans
    trace = None  # type: ignore[assignment]

TRACER_NAME = "flash.streaming"
CALLBACK_TRACER_NAME = "flash.callbacks"
T = TypeVar("T")


class RunTracer:
    """Starts and ends the span of each run (the pump calls it through `StreamMetrics`)."""

    __slots__ = ("tracer",)

    def __init__(self) -> None:
        self.tracer = trace.get_tracer(TRACER_NAME)  # a proxy: follows a provider set later

    def start(self, name: str, stream_id: str, run_id: str) -> tuple[Any, Any]:
        span = self.tracer.start_span(
            f"stream {name}", attributes={"flash.stream.name": name, "flash.stream.id": stream_id, "flash.run.id": run_id}
        )
        return span, otel_context.attach(trace.set_span_in_context(span))

    @staticmethod
    def end(handle: tuple[Any, Any], outcome: str, frames: int) -> None:
        span, token = handle
        span.set_attribute("flash.stream.outcome", outcome)
        span.set_attribute("flash.stream.frames", frames)
        if outcome == "error":
            span.set_status(Status(StatusCode.ERROR, "the stream's generator raised"))
        span.end()
        otel_context.detach(token)


def callback_outcome(error: BaseException | None) -> str:
    """How a callback request ended: ok, prevented (PreventUpdate: 204), rejected (a 4xx: the
    request was wrong, not the server), cancelled (the client went away) or error (a 500)."""
    if error is None:
        return "ok"
    if isinstance(error, PreventUpdate):
        return "prevented"
    if isinstance(error, RequestError) or (isinstance(error, HTTPException) and (error.code or 500) < 500):
        return "rejected"
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    return "error"


class CallbackTracer:
    """One span per ordinary callback request, `callback <output>` (server/dispatch.py calls
    `trace` around the callback's steps). Only an `error` outcome sets status ERROR and records
    the exception: PreventUpdate and bad requests are not the server failing."""

    __slots__ = ("tracer",)

    def __init__(self) -> None:
        self.tracer = trace.get_tracer(CALLBACK_TRACER_NAME)  # a proxy: follows a provider set later

    async def trace(self, body: dict[str, Any], steps: Callable[[Any], Awaitable[T]]) -> T:
        """`await steps(span)` with a span current; `steps` adds what only it knows (the kind)."""
        output = str(body.get("output", ""))
        triggered = [str(prop) for prop in body.get("changedPropIds") or ()]
        span = self.tracer.start_span(
            f"callback {output}", attributes={"flash.callback.output": output, "flash.callback.triggered": triggered}
        )
        if not span.get_span_context().is_valid:  # no SDK configured: nothing records it or is its child
            return await steps(None)
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            answer = await steps(span)
        except BaseException as error:
            outcome = callback_outcome(error)
            span.set_attribute("flash.callback.outcome", outcome)
            if outcome == "error":
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, f"the callback raised {type(error).__name__}"))
            raise
        else:
            span.set_attribute("flash.callback.outcome", "ok")
            return answer
        finally:
            span.end()
            otel_context.detach(token)


def run_tracer() -> RunTracer | None:
    return None if trace is None else RunTracer()


def callback_tracer() -> CallbackTracer | None:
    return None if trace is None else CallbackTracer()
