"""OpenTelemetry spans, one per stream run, when metrics are on and `opentelemetry-api` is
installed (the `otel` extra). Like any instrumented library, Flash only uses the API: the spans
go nowhere (a non-recording span, a few microseconds per run, nothing per frame) until the app
configures an SDK and an exporter. Metrics off: no span is ever made (the hook is not reached).

A run's span is the current span while its generator runs (attached in the pump task, whose
context its sync steps' threads copy), so spans the generator makes are its children.
"""
from __future__ import annotations

from typing import Any

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode
except ImportError:  # the API is not installed: no spans
    trace = None  # type: ignore[assignment]

TRACER_NAME = "flash.streaming"


class RunTracer:
    """Starts and ends the span of each run (the pump calls it through `StreamMetrics`)."""

    __slots__ = ("tracer",)

    def __init__(self) -> None:
        self.tracer = trace.get_tracer(TRACER_NAME)  # a proxy: follows a provider set later

    def start(self, name: str, stream_id: str, run_id: str) -> tuple[Any, Any]:
        span = self.tracer.start_span(f"stream {name}", attributes={
            "flash.stream.name": name, "flash.stream.id": stream_id, "flash.run.id": run_id})
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


def run_tracer() -> RunTracer | None:
    return None if trace is None else RunTracer()
