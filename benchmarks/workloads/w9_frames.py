"""W9's frame-delay part: N browsers, each with its own endless stream, on the servers of W9.

Where W9's fan-out publishes one message to every stream at once (the median copy waits for
half of the fan-out), this is each page's own feed: N streams of `cluster_app.py`'s `frames`
event callback, one downlink (browser) each, every stream yielding `{"f": <CLOCK_MONOTONIC ns>}`
every `FRAME_PERIOD_S` (0.25 s: 4 frames a second per browser, 4,000 a second at 1,000) from a
random phase, as browsers that did not open in step would. Frame delay = arrival at the client
(same host, same clock) - the stamp taken at the yield. Measured for `FRAMES_S` seconds after
every stream has run `WARM_S`; CPU per frame: the workers' user+system CPU over that time ÷
frames. Two set-ups: one worker without shared storage (Dash 4.5's published one: 1,000
streaming browsers on one uvicorn worker, 3 ms median frame delay) and two workers + Redis
with half of the runs on the other worker than their downlink (runner -> Redis -> holder).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from ..cluster import cpu_seconds
from ..streams import ERROR, Downlink, Starters
from .w9_fanout import PARALLEL, STARTERS, close_all, gated

FRAME = re.compile(rb'"f":(\d+)')
WARM_S = 2.0
FRAMES_S = 6.0
FRAMES_INPUT = "w9-frames"


def _pct(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1e6


async def client(
    ports: list[int],
    worker_pids: list[int],
    stream_id: str,
    streams: int,
    timeout: float,
    away: str = "half",
    seconds: float = FRAMES_S,
) -> dict[str, Any]:
    """Open one downlink per stream, start every stream, then time frames for `seconds`.
    `away`: "half" of the runs on the other worker than their downlink (a round-robin
    balancer), or "all" (every frame crosses the bus: runner -> Redis -> holder)."""
    latencies: list[int] = []
    failed: list[str] = []
    measuring = False

    async def read(downlink: Downlink) -> None:
        async for block in downlink.blocks():
            if measuring:
                now = time.monotonic_ns()
                latencies.extend(now - int(match[1]) for match in FRAME.finditer(block))
            if ERROR in block:
                failed.append(f"a run failed: {block[:300]!r}")

    downlinks = await gated(streams, PARALLEL, lambda i: Downlink.open(ports[i % len(ports)], timeout=60))
    readers = [asyncio.create_task(read(d)) for d in downlinks]
    starters = {port: await Starters.open(port, STARTERS) for port in ports}

    async def start(i: int) -> str:
        shift = 1 if away == "all" else i // 2  # two workers: all, or half, away from their downlink
        port = ports[(i + shift) % len(ports)]
        return await starters[port].start(port, stream_id, FRAMES_INPUT, 1, downlinks[i].token)

    try:
        await asyncio.wait_for(gated(streams, PARALLEL, start), timeout)
        await asyncio.sleep(WARM_S)
        cpu0, sys0, wall0 = cpu_seconds(worker_pids), _system_seconds(worker_pids), time.perf_counter()
        measuring = True
        await asyncio.sleep(seconds)
        measuring = False
        cpu, wall = cpu_seconds(worker_pids) - cpu0, time.perf_counter() - wall0
        system = _system_seconds(worker_pids) - sys0
    finally:
        close_all(readers, downlinks, starters)
    if failed:
        raise RuntimeError(failed[0])
    if not latencies:
        raise RuntimeError("no frame arrived while measuring")
    lat = sorted(latencies)
    return {
        "streams": streams,
        "frames": len(lat),
        "frames_per_s": len(lat) / wall,
        "p50_ms": _pct(lat, 0.5),
        "p99_ms": _pct(lat, 0.99),
        "cpu_us": cpu / len(lat) * 1e6,
        "system_us": system / len(lat) * 1e6,
    }  # the kernel's part of cpu_us (socket calls, wake-ups)


def _system_seconds(pids: list[int]) -> float:
    import psutil

    return sum(psutil.Process(pid).cpu_times().system for pid in pids)


def measure(
    server: str = "uvicorn",
    redis: bool = True,
    away: str = "all",
    streams: int = 1000,
    seconds: float = FRAMES_S,
    profile: str = "",
    profile_delay: float = 8.0,
) -> dict[str, Any]:
    """One frames run on a fresh cluster, outside the suite: `python -m benchmarks.workloads.w9_frames`.
    `profile`: a path prefix; py-spy (when installed) samples each worker for `seconds` from
    `profile_delay` seconds after the client starts, into `<prefix>-<pid>.txt` (collapsed stacks)."""
    import os
    import shutil
    import subprocess
    import tempfile
    import threading
    from pathlib import Path

    from ..cluster import Cluster
    from ..load import run_job

    log_dir = Path(tempfile.mkdtemp(prefix="flash-w9f-"))
    cluster: dict[str, Any] = {} if redis else {"workers": 1, "redis": False}
    timeout = 60 + streams * 0.03
    spies: list[subprocess.Popen[bytes]] = []
    window: dict[str, Any] = {}  # W9F_CALLS: Redis commands per second in the window; W9F_THREADS: CPU per thread
    with Cluster(f"flash/{server}", server, log_dir, **cluster) as running:

        def spy() -> None:
            if os.environ.get("W9F_THREADS"):  # CPU seconds per thread of each worker in the window
                import psutil

                def times() -> dict[tuple[int, int], float]:
                    return {
                        (pid, t.id): t.user_time + t.system_time
                        for pid in running.worker_pids
                        for t in psutil.Process(pid).threads()
                    }

                before = times()
                time.sleep(seconds)
                after = times()
                window.update({f"{pid}/{tid}": round(cpu - before.get((pid, tid), 0.0), 3) for (pid, tid), cpu in after.items()})
                return
            if os.environ.get("W9F_CALLS") and running.redis is not None:  # commands/s in a window
                import redis as redis_py

                admin = redis_py.Redis.from_url(running.redis.url)
                before = admin.info("commandstats")
                time.sleep(seconds)
                after = admin.info("commandstats")
                admin.close()
                window.update(
                    {
                        name.removeprefix("cmdstat_"): round((value["calls"] - before.get(name, {}).get("calls", 0)) / seconds)
                        for name, value in after.items()
                    }
                )
                return
            if os.environ.get("W9F_CPROFILE"):  # a CPU-time cProfile in each worker instead
                import httpx

                for worker in running.workers:
                    httpx.post(worker.url + "/_bench/cprofile", json={"on": True}, timeout=30)
                time.sleep(seconds)
                for worker in running.workers:
                    httpx.post(
                        worker.url + "/_bench/cprofile",
                        timeout=60,
                        json={"on": False, "path": f"{profile}-{worker.worker_pid}.prof"},
                    )
                return
            for pid in running.worker_pids:
                if os.environ.get("W9F_STRACE"):  # system calls instead of Python stacks
                    command = [
                        "timeout",
                        "-s",
                        "INT",
                        str(int(seconds)),
                        "strace",
                        "-c",
                        "-f",
                        "-p",
                        str(pid),
                        "-o",
                        f"{profile}-{pid}.strace",
                    ]
                else:
                    command = [
                        "py-spy",
                        "record",
                        "--pid",
                        str(pid),
                        "--duration",
                        str(int(seconds)),
                        "--rate",
                        "200",
                        "--format",
                        "raw",
                        "--nonblocking",
                        "-o",
                        f"{profile}-{pid}.txt",
                    ]
                spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

        # W9F_CALLS and W9F_THREADS count without a profile path (or py-spy); the rest write to `profile`
        counting = os.environ.get("W9F_CALLS") or os.environ.get("W9F_THREADS")
        timer = threading.Timer(profile_delay, spy) if counting or (profile and shutil.which("py-spy")) else None
        if timer is not None:
            timer.start()
        try:
            result = run_job(
                "w9f",
                {
                    "ports": running.ports,
                    "worker_pids": running.worker_pids,
                    "stream_id": running.info["frames"],
                    "streams": streams,
                    "timeout": timeout,
                    "away": away,
                    "seconds": seconds,
                },
                timeout=timeout + 120,
            )
        finally:
            if timer is not None:
                timer.cancel()
                timer.join()
            for proc in spies:
                proc.wait(seconds + 30)
        if running.redis is not None:  # Redis commands per frame, set-up and teardown included
            import redis as redis_py

            stats = redis_py.Redis.from_url(running.redis.url).info("commandstats")
            calls = {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}
            result["redis_calls_per_frame"] = {
                name: round(n / result["frames"] * FRAMES_S / seconds, 3)
                for name, n in sorted(calls.items(), key=lambda kv: -kv[1])[:8]
            }
    if window:
        result["window"] = dict(sorted(window.items(), key=lambda kv: -kv[1])[:10])
    return result


def main() -> None:
    import argparse
    import json

    parser = argparse.ArgumentParser(
        description="W9's frames on a fresh cluster (2 workers + Redis, or --memory: 1 worker, no Redis); prints one JSON line"
    )
    parser.add_argument("--server", default="uvicorn")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--away", default="all", choices=["all", "half"])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=FRAMES_S)
    parser.add_argument("--profile", default="")
    parser.add_argument("--profile-delay", type=float, default=8.0)
    args = parser.parse_args()
    print(
        json.dumps(
            measure(args.server, not args.memory, args.away, args.streams, args.seconds, args.profile, args.profile_delay)
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
