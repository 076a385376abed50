"""Per-worker stream figures: plain counters and fixed-bucket histograms, read at scrape time.

Why not prometheus-client's own Counter/Histogram on the hot path: each of their updates takes a
lock, and a stream writes thousands of frames a second on one event loop thread. Here an update
is an integer add on an object the loop owns; the exposition (`collector.py`) turns the figures
into Prometheus families only when someone scrapes. Gauges (live runs, downlinks, queued frames)
are not counted at all: the collector reads them from the app's registries at scrape time, so
they can never drift.

Off (the default) costs one attribute check per hook: the hooks read `DownlinkRegistry.metrics`
(None when metrics are off) and do nothing else. Nothing here imports the rest of flash.
"""

from __future__ import annotations

import os
import threading
import time
from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

# Seconds. Frame lag: a frame queued on a downlink usually leaves within a loop turn or two; a
# slow reader holds it for up to `stream_write_timeout` (10 s by default).
LAG_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Seconds a sync call waited for a free pool thread (the queue warning's default threshold: 1 s).
POOL_WAIT_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0)
OUTCOMES = ("done", "closed", "error", "gone")  # how a run ended (see `StreamMetrics.run_ended`)

clock = time.monotonic  # the clock asyncio's default loop uses too


class Histogram:
    """Cumulative-at-export bucket counts: `counts[i]` holds the observations in
    (bounds[i-1], bounds[i]]; the last slot is +Inf. Not thread-safe: see `LockedHistogram`."""

    __slots__ = ("bounds", "count", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        if list(bounds) != sorted(set(bounds)) or not bounds:
            raise ValueError("histogram bounds must be distinct and ascending")
        self.bounds = tuple(float(b) for b in bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # `le` buckets: value <= bound
        self.total += value
        self.count += 1

    def snapshot(self) -> tuple[list[tuple[str, int]], float]:
        """Prometheus' cumulative buckets ((le, count), ..., ("+Inf", count)) and the sum."""
        buckets, running = [], 0
        for bound, count in zip(self.bounds + (float("inf"),), list(self.counts)):
            running += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return buckets, self.total


class LockedHistogram(Histogram):
    """Observed from pool threads (the thread-pool queue wait): one lock per observation."""

    __slots__ = ("_lock",)

    def __init__(self, bounds: Sequence[float]) -> None:
        super().__init__(bounds)
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            super().observe(value)

    def snapshot(self) -> tuple[list[tuple[str, int]], float]:
        with self._lock:
            return super().snapshot()


class StreamMetrics:
    """One app's stream figures on this worker. Updated only on the event loop thread (the
    hooks in streaming/run/pump.py and streaming/wire/downlink.py); what removes entries: nothing, the
    figures are counters for the life of the process (`outcomes` has one key per `OUTCOMES`)."""

    __slots__ = ("bytes", "callback_tracer", "frames", "lag", "outcomes", "runs_started", "stalled", "tracer", "writes")

    def __init__(self) -> None:
        self.runs_started = 0
        self.outcomes = dict.fromkeys(OUTCOMES, 0)
        self.frames = 0  # run messages written to downlinks (each is one SSE event)
        self.bytes = 0  # every byte written to downlinks: frames, hello/replay, heartbeats
        self.writes = 0  # server writes: frames / writes is how much the downlinks coalesce
        self.stalled = 0  # downlinks cut because their reader took nothing for stream_write_timeout
        self.lag = Histogram(LAG_BUCKETS)
        self.tracer: Any = None  # a `tracing.RunTracer`: one OpenTelemetry span per run
        # a `tracing.CallbackTracer`: one span per ordinary callback request (server/dispatch.py)
        self.callback_tracer: Any = None

    def run_started(self, name: str = "", stream_id: str = "", run_id: str = "") -> Any:
        """A run's pump began; returns what `run_ended` takes (its span, when traced)."""
        self.runs_started += 1
        return None if self.tracer is None else self.tracer.start(name, stream_id, run_id)

    def run_ended(self, outcome: str, traced: Any = None, frames: int = 0) -> None:
        self.outcomes[outcome] += 1
        if traced is not None:
            self.tracer.end(traced, outcome, frames)

    def wrote(self, stamps: list[float] | None, frames: list[bytes] | None, size: int) -> None:
        """One write of `size` bytes returned. `frames`: the run messages in it, queued at
        `stamps[i]` (the same order); each one's lag from its queueing to now is observed."""
        self.writes += 1
        self.bytes += size
        if not frames:
            return
        count = len(frames)
        self.frames += count
        if stamps:
            now = clock()
            observe = self.lag.observe
            for stamp in stamps[:count]:
                observe(now - stamp)
            del stamps[:count]  # pushes made during the write stay for the next one


# The thread pool is per process (Dash's shared executor), so its wait is one process figure.
_pool_wait: LockedHistogram | None = None
_pool_lock = threading.Lock()


def pool_wait_histogram() -> LockedHistogram:
    """The process's thread-pool queue wait, observed (from then on) once metrics are on."""
    global _pool_wait
    with _pool_lock:
        if _pool_wait is None:
            from ..server.threads import WAIT_OBSERVERS

            _pool_wait = LockedHistogram(POOL_WAIT_BUCKETS)
            WAIT_OBSERVERS.append(_pool_wait.observe)
        return _pool_wait


def metrics_option(value: Any) -> bool:
    """`Flash(metrics=...)`, else env ``FLASH_METRICS`` (1/true/on/yes or 0/false/off/no), else off."""
    if value is None:
        env = os.environ.get("FLASH_METRICS", "").strip().lower()
        if env and env not in _ON + _OFF:
            raise ValueError(f"FLASH_METRICS takes 1/true/on or 0/false/off, not {env!r}.")
        return env in _ON
    if value not in (True, False):
        raise TypeError(f"metrics takes True, False or None, not {value!r}.")
    return bool(value)


_ON = ("1", "true", "on", "yes")
_OFF = ("0", "false", "off", "no")
