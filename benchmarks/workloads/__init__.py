"""The workloads of issues 4 and 12 run by `python -m benchmarks` (W7 is a browser benchmark: see
benchmarks/browser.py). Each module exposes NAME, TITLE, TARGET, METRICS, `applies` and either
`measure(server, cfg)` (over HTTP, one worker), `measure_inprocess(app, cfg)` (W1) or, with
`CLUSTER = True`, `measure_cluster(contender, cfg, log_dir)` (W9, W10: it starts two workers of
the contender's server and a redis-server itself). SOAK (issue 22, `soak.py`) is opt-in: only
`--only SOAK` runs it (`opt_in_workloads`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType


@dataclass(frozen=True)
class Metric:
    key: str
    unit: str
    higher_is_better: bool
    label: str


@dataclass
class Config:
    """Sizes of every workload; `quick()` shrinks them for a ~2 minute smoke run."""

    rounds: int = 3
    w1_iterations: int = 4000
    w2_seconds: float = 3.0
    w2_connections: tuple[int, ...] = (16, 64)
    w3_callbacks: int = 1000
    w3_waves: int = 2
    w4_messages: int = 20000
    w5_streams: int = 10000
    w5_rounds: int = 1  # memory per stream barely varies and 10k streams take ~30 s to open
    w6_seconds: float = 3.0
    w6_connections: int = 16
    w8_streams: int = 100
    w8_messages: int = 2000  # per stream
    w9_sizes: tuple[int, ...] = (1000, 10000)  # subscribed streams, each size on a fresh cluster
    w9_publishes: tuple[int, ...] = (30, 10)  # measured publishes per size (after a warm-up of 3)
    w9_browser_max: int = 1000  # up to this many streams: one downlink (browser) per stream
    w9_per_downlink: int = 100  # above it: this many streams per downlink
    w10_tries: int = 50
    w12_sizes: tuple[int, ...] = (1000, 2000)  # browsers, one worker each size (Flash vs Dash 4.5)
    w12_bus_size: int = 1000  # browsers on 2 workers + Redis (0: skip that part)
    w12_frames_s: float = 6.0  # measured seconds of frames, after every stream runs
    w12_warm_s: float = 2.0  # every stream runs this long before the measured seconds
    cluster_rounds: int = 1  # W9/W10 start their own clusters, and 10,000 streams take a while
    soak_minutes: float = 30.0  # SOAK (opt-in): how long the churn and callbacks run
    soak_streams: int = 1000  # live streams held open throughout
    soak_checkpoints: tuple[int, ...] = (10000, 20000, 40000)  # churn cycles at which RSS is sampled
    soak_churn_rate: float = 25.0  # churn cycles a second: 40,000 in ~27 minutes
    soak_callback_rate: float = 10.0  # ordinary callbacks a second
    soak_sample_s: float = 60.0  # a periodic sample every this many seconds
    quick: bool = False
    stream_ids: dict[str, str] = field(default_factory=dict)  # Flash's event callbacks

    @classmethod
    def quick_config(cls) -> "Config":
        return cls(
            rounds=1,
            w1_iterations=1000,
            w2_seconds=2.0,
            w3_waves=1,
            w4_messages=5000,
            w5_streams=2000,
            w6_seconds=2.0,
            w8_messages=300,
            w9_sizes=(200, 1000),
            w9_publishes=(10, 10),
            w10_tries=10,
            w12_sizes=(200, 1000),
            w12_bus_size=200,
            w12_frames_s=3.0,
            quick=True,
        )

    @classmethod
    def smoke_config(cls) -> "Config":
        """`--smoke`: seconds per workload, only to show that every part still produces numbers."""
        return cls(
            rounds=1,
            w1_iterations=200,
            w2_seconds=0.5,
            w2_connections=(4,),
            w3_callbacks=50,
            w3_waves=1,
            w4_messages=500,
            w5_streams=100,
            w6_seconds=0.5,
            w6_connections=4,
            w8_messages=50,
            w9_sizes=(100,),
            w9_publishes=(3,),
            w10_tries=3,
            w12_sizes=(50,),
            w12_bus_size=0,
            w12_frames_s=1.0,
            w12_warm_s=0.3,
            quick=True,
        )


def all_workloads() -> list[ModuleType]:
    from . import (
        w1_inprocess,
        w2_throughput,
        w3_concurrency,
        w4_stream,
        w5_idle,
        w6_pageload,
        w8_multiplex,
        w9_fanout,
        w10_resume,
        w11_pages,
        w12_frames,
    )

    return [
        w1_inprocess,
        w2_throughput,
        w3_concurrency,
        w4_stream,
        w5_idle,
        w6_pageload,
        w8_multiplex,
        w9_fanout,
        w10_resume,
        w11_pages,
        w12_frames,
    ]


def opt_in_workloads() -> list[ModuleType]:
    """Workloads run only when named with --only (SOAK takes half an hour per contender)."""
    from . import soak

    return [soak]
