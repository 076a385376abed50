"""Prometheus exposition of one app's stream figures (`GET <prefix>_flash/metrics`).

Each app gets its own `CollectorRegistry` (not prometheus-client's global one): two Flash apps in
one process (tests, a dispatcher) never clash on metric names, and a scrape shows exactly this
app. The collector reads everything at scrape time, on the event loop thread (the view is async),
so the registries it walks do not change under it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

try:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    from prometheus_client.core import (
        CollectorRegistry,
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
        Metric,
    )
    from prometheus_client.registry import Collector
except ImportError:  # pragma: no cover - the error is raised by `require_prometheus`
    CollectorRegistry = None  # type: ignore[assignment,misc]
    Collector = object  # type: ignore[assignment,misc]

from .registry import Histogram, StreamMetrics, clock, pool_wait_histogram

BUS_PING_TIMEOUT = 1.0  # seconds a scrape waits for Redis' PONG before reporting the bus down

INSTALL_HINT = (
    "Flash(metrics=True) (or FLASH_METRICS=1) needs prometheus-client: "
    "pip install 'dash-flash[metrics]' (or: pip install prometheus-client)."
)


def require_prometheus() -> None:
    if CollectorRegistry is None:
        raise ImportError(INSTALL_HINT)


def _histogram(name: str, doc: str, histogram: Histogram) -> Metric:
    buckets, total = histogram.snapshot()
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=total)


class StreamCollector(Collector):
    """Turns `StreamMetrics` plus the live registries of `app` into metric families."""

    def __init__(self, app: Any, figures: StreamMetrics) -> None:
        self.app = app
        self.figures = figures
        self.bus_ping: float | None = None  # seconds; NaN: the last ping failed; None: no bus

    async def ping_bus(self) -> None:
        """With the stream bus, one Redis PING per scrape: its round trip, measured off the hot
        path (a failed or slow ping shows as NaN and `flash_bus_up 0`)."""
        bus = self.app.stream_runs.bus
        if bus is None:
            return
        began = clock()
        try:
            await asyncio.wait_for(bus.client().ping(), BUS_PING_TIMEOUT)
            self.bus_ping = clock() - began
        except Exception:  # noqa: BLE001  # Redis down: the figure
            self.bus_ping = float("nan")

    def collect(self) -> Iterator[Metric]:
        figures, runs = self.figures, self.app.stream_runs
        yield GaugeMetricFamily("flash_stream_runs_live", "Stream runs running on this worker now.", value=len(runs))
        downlinks = GaugeMetricFamily(
            "flash_downlinks",
            "Downlinks this worker holds, by whether a response is attached (connected) or they wait for the page to resume.",
            labels=["state"],
        )
        listeners = [d.listener for d in list(runs.downlinks.values()) if d.listener is not None]
        downlinks.add_metric(["connected"], len(listeners))
        downlinks.add_metric(["waiting"], len(runs.downlinks) - len(listeners))
        yield downlinks
        yield GaugeMetricFamily(
            "flash_stream_queued_frames",
            "Messages queued on open downlinks, not yet written.",
            value=sum(len(listener.pending) for listener in listeners),
        )
        yield GaugeMetricFamily(
            "flash_stream_queued_bytes",
            "Bytes queued on open downlinks, not yet written.",
            value=sum(listener.pending_bytes for listener in listeners),
        )
        yield CounterMetricFamily("flash_stream_runs_started", "Stream runs started on this worker.", value=figures.runs_started)
        ended = CounterMetricFamily(
            "flash_stream_runs_ended",
            "Stream runs ended on this worker, by outcome: "
            "done (finished), closed (by the page or its going away), error "
            "(the generator raised), gone (worker stopping or shared storage lost).",
            labels=["outcome"],
        )
        for outcome, count in figures.outcomes.items():
            ended.add_metric([outcome], count)
        yield ended
        yield CounterMetricFamily(
            "flash_stream_frames_written", "Run messages written to downlink responses.", value=figures.frames
        )
        yield CounterMetricFamily(
            "flash_stream_bytes_written",
            "Bytes written to downlink responses (messages, hello and replay, heartbeats).",
            value=figures.bytes,
        )
        yield CounterMetricFamily(
            "flash_stream_writes",
            "Writes to downlink responses (frames / writes: how many messages each write coalesced).",
            value=figures.writes,
        )
        yield CounterMetricFamily(
            "flash_stream_stalled_readers",
            "Downlinks cut because their reader took nothing for stream_write_timeout seconds.",
            value=figures.stalled,
        )
        yield _histogram(
            "flash_stream_frame_lag_seconds",
            "Seconds from a message being queued on its downlink (right after the generator's yield) to its write returning.",
            figures.lag,
        )
        if self.bus_ping is not None:
            up = self.bus_ping == self.bus_ping  # not NaN
            yield GaugeMetricFamily(
                "flash_bus_up", "1 if this scrape's PING of the stream bus (Redis) answered.", value=1 if up else 0
            )
            yield GaugeMetricFamily(
                "flash_bus_ping_seconds",
                "Round trip of this scrape's PING of the stream bus (Redis); NaN when it failed.",
                value=self.bus_ping,
            )
        yield _histogram(
            "flash_thread_pool_wait_seconds",
            "Seconds sync calls waited for a free pool thread (this process).",
            pool_wait_histogram(),
        )


def scrape_view(app: Any, figures: StreamMetrics) -> Any:
    """The `GET <prefix>_flash/metrics` view: Prometheus' text format, made at each scrape."""
    registry = CollectorRegistry(auto_describe=False)
    collector = StreamCollector(app, figures)
    registry.register(collector)

    async def metrics_view() -> tuple[bytes, int, dict[str, str]]:
        await collector.ping_bus()
        return generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}

    return metrics_view
