"""W12: W9's frame set-up side by side, Flash against Dash 4.5 (issue 23, item 4).

N simulated browsers (1,000 and 2,000; `cfg.w12_sizes`), each with its own endless stream
yielding `{"f": <CLOCK_MONOTONIC ns>, "i": <n>}` every 0.25 s from a random phase, on ONE
uvicorn worker: Flash's `frames` event callback (`cluster_app.py`, no shared storage) and Dash
4.5's `async def` generator `@callback` (`dash45_app.py`, its default `LocalSharedStorage`
transport), each browser speaking its framework's protocol (`frames_client.py`). Then the same
on TWO uvicorn workers + one redis-server (`cfg.w12_bus_size` browsers; Flash:
`FLASH_SHARED_STORAGE`, Dash: `DASH_SHARED_STORAGE`, one secret for both workers), half of the
streams started on the other worker than their downlink. Each part on fresh servers.

Figures: frame delay p50/p95/p99, frames lost (%), worker CPU per frame, worker RSS growth per
browser, time until every stream has sent its first frame, and an ordinary callback's latency
while the streams run. Flash ÷ Dash 4.5 in the ratio table (`targets.py`).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import httpx

from ..cluster import RedisServer, missing_parts
from ..contenders import Contender, Server
from ..load import run_job
from . import Config, Metric

NAME = "W12"
TITLE = "N browsers' own streams (W9 frames), one uvicorn worker and 2 workers + redis: Flash vs Dash 4.5"
TARGET = "none (reported): Flash ÷ Dash 4.5"
CLUSTER = True
CLUSTER_LABEL = ""
RESULTS_STEM = "w12-latest"  # W12 alone keeps its own files (results/w12-latest.json)
SIZES = (50, 200, 1000, 2000)  # smoke: 50; quick: 200 and 1,000; full: 1,000 and 2,000
FIGURES = (
    ("frame_p50_ms", "ms", "frame delay p50"),
    ("frame_p95_ms", "ms", "frame delay p95"),
    ("frame_p99_ms", "ms", "frame delay p99"),
    ("lost_pct", "%", "frames lost"),
    ("cpu_us", "us/frame", "worker CPU per frame"),
    ("kb_per_browser", "KB", "worker RSS per browser"),
    ("start_s", "s", "time until every stream has sent a frame"),
    ("ping_p50_ms", "ms", "an ordinary callback meanwhile, p50"),
    ("ping_p95_ms", "ms", "an ordinary callback meanwhile, p95"),
    ("cuts", "count", "downlink responses that ended (the client reopens them from its cursor)"),
)
METRICS = [
    Metric(f"{prefix}{key}_{n}", unit, False, f"{label}, {n:,} browsers, {where}")
    for prefix, where, sizes in (("", "one worker", SIZES), ("bus_", "2 workers + Redis", SIZES))
    for n in sizes
    for key, unit, label in FIGURES
]
# Flash's frames app, and Dash 4.5's, by the contender whose server they stand for.
APPS = {"flash/uvicorn": ("flash", "flash_cluster"), "dash45/uvicorn": ("dash45", "dash45_frames")}


def applies(contender: Any) -> bool:
    return contender.name in APPS


def _env(kind: str, redis_url: str | None) -> dict[str, str]:
    """One worker: Flash without shared storage (its in-memory bus), Dash with its default (local);
    two: both on Redis with one signing secret, as each framework's docs say."""
    secret = secrets.token_hex(32)
    if kind == "flash":
        return {"FLASH_SHARED_STORAGE": redis_url or "none", "FLASH_SECRET_KEY": secret}
    return {"DASH_SHARED_STORAGE": redis_url or "local", "DASH_SECRET_KEY": secret}


def _part(contender: Contender, log_dir: Path, streams: int, cfg: Config, workers: int) -> dict[str, Any]:
    kind, app = APPS[contender.name]
    redis = RedisServer(log_dir) if workers > 1 else None
    if redis and missing_parts():
        raise RuntimeError(f"W12 on two workers needs {missing_parts()}")
    servers: list[Server] = []
    try:
        if redis:
            redis.__enter__()
        env = _env(kind, redis.url if redis else None)
        for _ in range(workers):
            servers.append(Server(Contender(contender.name, app, "uvicorn"), log_dir, env=env).__enter__())
        stream_id = httpx.get(servers[0].url + "/_bench/info", timeout=10).json()["frames"] if kind == "flash" else ""
        ports = [s.port for s in servers] * (2 // workers)
        timeout = 60 + streams * 0.05
        try:
            return run_job(
                "w12",
                {
                    "kind": kind,
                    "ports": ports,
                    "worker_pids": [s.worker_pid for s in servers],
                    "streams": streams,
                    "frames_s": cfg.w12_frames_s,
                    "warm_s": cfg.w12_warm_s,
                    "stream_id": stream_id,
                    "timeout": timeout,
                },
                timeout=2 * timeout + cfg.w12_frames_s + cfg.w12_warm_s + 120,
            )
        except Exception as err:
            raise RuntimeError(f"{err}\n" + "\n".join(s.log_tail(8) for s in servers)) from err
    finally:
        for server in servers:
            server.stop()
        if redis:
            redis.__exit__()


def measure_cluster(contender: Contender, cfg: Config, log_dir: Path) -> dict[str, Any]:
    """Each size on a fresh worker, then the two-worker part; a failed part is reported as an
    error of the run (Dash 4.5 at 2,000 browsers may not start every stream) and the rest runs."""
    out: dict[str, Any] = {"errors": []}
    plan = [("", n, 1) for n in cfg.w12_sizes] + ([("bus_", cfg.w12_bus_size, 2)] if cfg.w12_bus_size else [])
    for prefix, streams, workers in plan:
        try:
            result = _part(contender, log_dir, streams, cfg, workers)
        except Exception as err:
            out["errors"].append(f"{streams:,} browsers on {workers} worker(s): {err}")
            continue
        for key, value in result.items():
            if key != "streams":
                out[f"{prefix}{key}_{streams}"] = value
    return out


CHART = ("frame_p50_ms", "frame_p99_ms", "cpu_us", "kb_per_browser")  # chart.py: these panels only
PAIR = ("flash/uvicorn", "dash45/uvicorn")


def table(medians: dict[str, Any], fmt: Any) -> list[str]:
    """report.py: one row per (set-up, browsers, figure): Flash, Dash 4.5 and Flash ÷ Dash 4.5."""
    mine = medians.get(NAME, {})
    rows = []
    for prefix, where in (("", "1 worker"), ("bus_", "2 workers + Redis")):
        for n in SIZES:
            for key, unit, label in FIGURES:
                values = mine.get(f"{prefix}{key}_{n}", {})
                flash, dash = values.get(PAIR[0]), values.get(PAIR[1])
                if flash is None and dash is None:
                    continue
                ratio = f"{flash / dash:.2f}x" if flash is not None and dash else ""
                rows.append([where, f"{n:,}", f"{label} ({unit})", _cell(flash), _cell(dash), ratio])
    if not rows:
        return []
    header = ["set-up (uvicorn)", "browsers", "figure", "Flash", "Dash 4.5", "Flash ÷ Dash 4.5"]
    return [
        "W12, each browser's own stream (a frame every 0.25 s), Flash against Dash 4.5 (below 1 is "
        "better for Flash in every row); a missing Dash 4.5 value is a part that failed (see the errors):",
        "",
        fmt(header, rows),
        "",
    ]


def _cell(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}" if abs(value) >= 1 else f"{value:.2f}"
