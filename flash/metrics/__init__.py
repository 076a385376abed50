"""Stream metrics (opt-in: `Flash(metrics=True)` or env ``FLASH_METRICS=1``); see docs/metrics.md.

The streaming layer imports this package, never the reverse: nothing here imports flash.streaming
or flash.app, and the app is only ever an argument.
"""

from __future__ import annotations

from typing import Any

from .registry import StreamMetrics, metrics_option, pool_wait_histogram
from .tracing import callback_tracer, run_tracer

__all__ = ["StreamMetrics", "enable_metrics", "metrics_option", "metrics_route"]


def enable_metrics(app: Any, value: bool | None) -> StreamMetrics | None:
    """Resolve the option; when on, check prometheus-client is there (a clear ImportError
    otherwise), start counting on `app.stream_runs` and timing the thread pool's queue."""
    if not metrics_option(value):
        return None
    from .collector import require_prometheus

    require_prometheus()
    figures = StreamMetrics()
    figures.tracer = run_tracer()  # OpenTelemetry spans per run, if opentelemetry-api is installed
    figures.callback_tracer = callback_tracer()  # ... and per ordinary callback request
    app.stream_runs.metrics = figures
    pool_wait_histogram()
    return figures


def metrics_route(app: Any) -> Any | None:
    """The scrape view for `app`, or None when its metrics are off (the route is then absent)."""
    figures = app.stream_runs.metrics
    if figures is None:
        return None
    from .collector import scrape_view

    return scrape_view(app, figures)
