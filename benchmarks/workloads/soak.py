"""SOAK (issue 22): does a Flash worker's memory plateau under hours of ordinary traffic?

Two workers of the contender's server share one redis-server (`cluster.py`), as W9 does. For
`--soak-minutes` (default 30) a client process (`soak_client.py`) keeps `--soak-streams` (default
1,000) live streams open, one downlink each, one message a second; churns streams (a new
downlink and run, closed or dropped) at `--soak-churn-rate` cycles a second (default 25: 40,000
cycles fit in 30 minutes); and sends 10 ordinary callbacks a second. It records each worker's
RSS, open files (/proc/<pid>/fd) and asyncio tasks (the app's `/_bench/diag`), and Redis memory
(`INFO memory`), at the start, the end and after the churn's lingering runs expired, plus RSS
when the churn passes each of `--soak-checkpoints` (default 10,000, 20,000, 40,000 cycles) and
every `sample_s`; then 10 s and 130 s after the churn stops (its lingering runs, then their
Redis keys, gone). Reported, never asserted; opt-in (`--only SOAK`), as it takes half an hour
per contender. Results: benchmarks/results/soak-latest.json; `table()` renders the README's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..cluster import Cluster
from ..load import run_job
from . import Config, Metric

NAME = "SOAK"
TITLE = "soak: live streams + churn + callbacks on 2 workers + redis-server, memory over time"
TARGET = "none (reported): RSS, open files, tasks and Redis memory should plateau"
CLUSTER = True
OPT_IN = True  # only with --only SOAK: it runs for --soak-minutes per contender
RESULTS_STEM = "soak-latest"
# Samples after the churn stops: when its lingering runs are gone (resume window 5 s + presence
# lapse 2 s + a margin), and when their Redis keys have expired too (runlog.LIVE_TTL_MS, 120 s).
SETTLE = (("settled", 10.0), ("keys expired", 130.0))
METRICS = [
    Metric("rss_start_mb", "MB", False, "RSS of both workers at the start (live streams open)"),
    Metric("rss_end_mb", "MB", False, "RSS of both workers at the end"),
    Metric("fds_start", "fds", False, "open files of both workers at the start"),
    Metric("fds_end", "fds", False, "open files of both workers at the end"),
    Metric("tasks_start", "tasks", False, "asyncio tasks of both workers at the start"),
    Metric("tasks_end", "tasks", False, "asyncio tasks of both workers at the end"),
    Metric("redis_start_mb", "MB", False, "Redis used_memory at the start"),
    Metric("redis_end_mb", "MB", False, "Redis used_memory at the end"),
    Metric("cycles", "cycles", True, "churn cycles done"),
]


def applies(contender: Any) -> bool:
    return bool(contender.app == "flash")


def _total(row: dict[str, Any], key: str) -> float | None:
    values = row[key]
    return None if any(v is None for v in values) else float(sum(values))


def measure_cluster(contender: Any, cfg: Config, log_dir: Path) -> dict[str, Any]:
    minutes = cfg.soak_minutes
    with Cluster(contender.name, contender.server, log_dir) as running:
        assert running.redis is not None  # a soak cluster always has its redis-server
        args = {
            "ports": running.ports,
            "worker_pids": running.worker_pids,
            "redis_url": running.redis.url,
            "stream_id": running.info["soak"],
            "streams": cfg.soak_streams,
            "minutes": minutes,
            "checkpoints": list(cfg.soak_checkpoints),
            "churn_rate": cfg.soak_churn_rate,
            "callback_rate": cfg.soak_callback_rate,
            "sample_s": cfg.soak_sample_s,
            "settle": SETTLE,
        }
        try:
            result = run_job("soak", args, timeout=minutes * 60 + 900)
        except Exception as err:
            raise RuntimeError(f"{err}\n{running.log_tail()}") from err
    first, end = result["samples"][0], next(s for s in result["samples"] if s["label"] == "end")
    print(contender_table(contender.name, result), flush=True)
    return {
        "rss_start_mb": _total(first, "rss_mb"),
        "rss_end_mb": _total(end, "rss_mb"),
        "fds_start": _total(first, "fds"),
        "fds_end": _total(end, "fds"),
        "tasks_start": _total(first, "tasks"),
        "tasks_end": _total(end, "tasks"),
        "redis_start_mb": first["redis_used_mb"],
        "redis_end_mb": end["redis_used_mb"],
        "cycles": result["cycles"],
        "detail": result,
    }


def contender_table(contender: str, result: dict[str, Any]) -> str:
    """The README's soak table for one contender: one row per sample that is not periodic."""
    rows = [s for s in result["samples"] if s["label"] != "periodic"]
    pair = lambda values: " / ".join("?" if v is None else f"{v:,}" for v in values)  # noqa: E731
    lines = [
        f"{contender}, {result['streams']:,} live streams, {result['minutes']:g} min, "
        f"{result['cycles']:,} churn cycles ({result['cycles_per_s']:.1f}/s), "
        f"{result['callbacks']:,} callbacks (p50 {result['callback_p50_ms'] or 0:.0f} ms, "
        f"p99 {result['callback_p99_ms'] or 0:.0f} ms), live messages {result['live_msgs_per_s']:,.0f}/s, "
        f"failures: {result['failures'] or 'none'}",
        "",
        "| sample | time | churn cycles | RSS MB (worker A / B) | open files | asyncio tasks | live runs "
        "| downlinks | Redis used MB | Redis keys |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in rows:
        lines.append(
            f"| {s['label']} | {s['t_s']:.0f} s | {s['cycles']:,} | {pair(s['rss_mb'])} | {pair(s['fds'])} "
            f"| {pair(s['tasks'])} | {pair(s['runs'])} | {pair(s['downlinks'])} | {s['redis_used_mb']} "
            f"| {s['redis_keys']:,} |"
        )
    periodic = [s for s in result["samples"] if s["label"] == "periodic"]
    if periodic:
        lines += [
            "",
            "RSS over time (MB, worker A / B): " + ", ".join(f"{s['t_s'] / 60:.1f} min {pair(s['rss_mb'])}" for s in periodic),
        ]
    return "\n".join(lines)
