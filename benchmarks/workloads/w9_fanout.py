"""W9: one channel publish fanned out to N subscribed streams on two workers sharing Redis.

Two worker processes of one server (`cluster.py`) and one redis-server. N streams of the
`watch` event callback (`cluster_app.py`: each subscribes to one `Channel` and yields every
message) are opened as browsers would open them: up to `w9_browser_max` streams, one downlink
per stream (one browser each); above that, `w9_per_downlink` streams per downlink. Downlinks
alternate between the workers and the runs are spread so that each worker runs half of them
and half of all runs run on the other worker than their downlink (as a round-robin balancer
spreads requests): those messages go runner -> Redis -> holder -> page. Once every run has said
`ready`, the client posts `publishes` publishes (after `WARM_UP`), one at a time, alternating
between the workers; each is stamped with CLOCK_MONOTONIC in the worker just before
`channel.publish`, and the client (same host, same clock) stamps each delivery when its
downlink's bytes arrive: latency = receive - publish. The next publish waits for every
delivery of the last. CPU per delivery: both workers' user+system CPU (psutil) over the
measured publishes ÷ deliveries; redis-server's the same way, separately.

The client is one asyncio process on uvloop that reads raw sockets and finds the stamps with one
regular expression per received block (no JSON parsing); its own CPU per delivery is reported
(`client_us_N`) to show it is not the bottleneck. Reference (`mem_*`): 1,000 streams, one
downlink each, on ONE worker without shared storage (the channel fans out in memory), the
set-up of Dash 4.5's published figure. Flash only: Dash 4.4 has no channels.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Awaitable, Callable

from ..client import Connection, post_json
from ..cluster import Cluster, cpu_seconds
from ..cluster_app import READY, WATCH_INPUT
from ..load import run_job
from ..streams import ERROR, Downlink, Starters
from . import Config, Metric

NAME = "W9"
TITLE = "one channel publish to N subscribed streams, 2 workers + redis-server"
TARGET = "none (reported); Dash 4.5 publishes 3 ms median frame delay, 1,000 streaming browsers on one uvicorn worker"
CLUSTER = True
SIZES = (200, 1000, 10000)  # quick: 200 and 1,000; full: 1,000 and 10,000
METRICS = (
    [
        m
        for n in SIZES
        for m in (
            Metric(f"p50_ms_{n}", "ms", False, f"delivery latency p50, {n:,} streams"),
            Metric(f"p99_ms_{n}", "ms", False, f"delivery latency p99, {n:,} streams"),
            Metric(f"cpu_us_{n}", "us/msg", False, f"worker CPU per delivery, {n:,} streams"),
            Metric(f"redis_us_{n}", "us/msg", False, f"redis-server CPU per delivery, {n:,} streams"),
        )
    ]
    + [
        Metric("mem_p50_ms", "ms", False, "reference: 1,000 streams on ONE worker, no Redis: latency p50"),
        Metric("mem_p99_ms", "ms", False, "reference: 1,000 streams on ONE worker, no Redis: latency p99"),
        Metric("mem_cpu_us", "us/msg", False, "reference: 1,000 streams on ONE worker, no Redis: CPU per delivery"),
    ]
    + [
        m
        for prefix, where in (
            ("", "ONE worker, no Redis"),
            ("bus_", "2 workers + Redis"),
            ("cross_", "2 workers + Redis, every run away from its page"),
        )
        for m in (
            Metric(f"{prefix}frame_p50_ms", "ms", False, f"frame delay p50, 1,000 browsers' own streams, {where}"),
            Metric(f"{prefix}frame_p99_ms", "ms", False, f"frame delay p99, 1,000 browsers' own streams, {where}"),
            Metric(f"{prefix}frame_cpu_us", "us/msg", False, f"worker CPU per frame, 1,000 browsers' own streams, {where}"),
        )
    ]
)
REFERENCE = 1000  # streams of the one-worker, in-memory reference (one downlink each)
WARM_UP = 3
PARALLEL = 64  # downlinks being opened, and start requests in flight, at once
STARTERS = 16  # keep-alive connections per worker for the start requests
GAP_S = 0.05  # pause after a publish's last delivery
DELIVERY = re.compile(rb'"n":(\d+),"t":(\d+)')
READY_MARK = f'"children":"{READY}"'.encode()
GONE = b"event: gone\n"


def applies(contender: Any) -> bool:
    return bool(contender.app == "flash")


def per_downlink(streams: int, cfg: Config) -> int:
    return 1 if streams <= cfg.w9_browser_max else cfg.w9_per_downlink


async def gated(count: int, parallel: int, make: Callable[[int], Awaitable[Any]]) -> list[Any]:
    gate = asyncio.Semaphore(parallel)

    async def one(i: int) -> Any:
        async with gate:
            return await make(i)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


class Tally:
    """Deliveries per publish, their latencies (ns), and `ready` runs, from every downlink."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.ready = 0
        self.counts: dict[int, int] = defaultdict(int)
        self.latencies: dict[int, list[int]] = defaultdict(list)
        self.waiters: dict[int, asyncio.Future[None]] = {}
        self.failed = ""

    def block(self, block: bytes) -> None:
        now = time.monotonic_ns()
        if READY_MARK in block:
            self.ready += block.count(READY_MARK)
        for match in DELIVERY.finditer(block):
            n = int(match[1])
            self.latencies[n].append(now - int(match[2]))
            self.counts[n] += 1
            if self.counts[n] >= self.expected and n in self.waiters and not self.waiters[n].done():
                self.waiters[n].set_result(None)
        if ERROR in block or GONE in block:
            self.fail(f"a run failed: {block[:300]!r}")

    def fail(self, why: str) -> None:
        self.failed = self.failed or why
        for waiter in self.waiters.values():
            if not waiter.done():
                waiter.set_exception(RuntimeError(why))

    async def wait(self, n: int, timeout: float) -> None:
        if self.counts[n] >= self.expected:
            return
        if self.failed:
            raise RuntimeError(self.failed)
        self.waiters[n] = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self.waiters[n]), timeout)
        except asyncio.TimeoutError:
            raise RuntimeError(
                f"publish {n}: {self.counts[n]:,} of {self.expected:,} deliveries within {timeout:.0f} s"
            ) from None


def close_all(readers: list[asyncio.Task[None]], downlinks: list[Downlink], starters: dict[int, Starters]) -> None:
    for task in readers:
        task.cancel()
    for downlink in downlinks:
        downlink.close()
    for pool in starters.values():
        pool.close()


async def _read(downlink: Downlink, tally: Tally) -> None:
    async for block in downlink.blocks():
        tally.block(block)
    tally.fail("a worker ended a downlink")


async def _publish(conns: dict[int, Connection], port: int, n: int) -> None:
    raw = post_json("/_bench/publish", port, {"n": n})
    try:
        status, body = await conns[port].request(raw)
    except (asyncio.IncompleteReadError, ConnectionError):  # an idle keep-alive connection closed
        conns[port].close()
        conns[port] = await Connection.open(port)
        status, body = await conns[port].request(raw)
    if status != 200:
        raise RuntimeError(f"publish answered {status}: {body[:300]!r}")


def _pct(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1e6


async def client(
    ports: list[int],
    worker_pids: list[int],
    redis_pids: list[int],
    stream_id: str,
    streams: int,
    per_downlink: int,
    publishes: int,
    timeout: float,
) -> dict[str, Any]:
    """Open the downlinks and runs, wait for every `ready`, then publish and time the deliveries."""
    if streams % per_downlink:
        raise ValueError(f"{streams} streams do not split into downlinks of {per_downlink}")
    count = streams // per_downlink
    tally = Tally(streams)
    t0 = time.perf_counter()
    downlinks = await gated(count, PARALLEL, lambda i: Downlink.open(ports[i % 2], timeout=60))
    readers = [asyncio.create_task(_read(d, tally)) for d in downlinks]
    starters = {port: await Starters.open(port, STARTERS) for port in ports}

    async def start(k: int) -> str:
        i, j = divmod(k, per_downlink)
        port = ports[(i + j + i // 2) % 2]  # half on each worker, half away from their downlink
        return await starters[port].start(port, stream_id, WATCH_INPUT, 1, downlinks[i].token)

    try:
        await gated(streams, PARALLEL, start)
        deadline = time.monotonic() + timeout
        while tally.ready < streams:
            if tally.failed or time.monotonic() > deadline:
                raise RuntimeError(tally.failed or f"{tally.ready:,} of {streams:,} runs ready within {timeout:.0f} s")
            await asyncio.sleep(0.05)
        setup_s = time.perf_counter() - t0
        conns = {port: await Connection.open(port) for port in ports}
        await asyncio.sleep(0.5)  # let the last starts' Redis traffic settle
        for n in range(WARM_UP + publishes):
            if n == WARM_UP:
                workers0, redis0, client0, wall0 = (
                    cpu_seconds(worker_pids),
                    cpu_seconds(redis_pids),
                    time.process_time(),
                    time.perf_counter(),
                )
            await _publish(conns, ports[n % 2], n)
            await tally.wait(n, timeout)
            await asyncio.sleep(GAP_S)
        workers_cpu = cpu_seconds(worker_pids) - workers0
        redis_cpu = cpu_seconds(redis_pids) - redis0
        client_cpu = time.process_time() - client0
        wall = time.perf_counter() - wall0
        for conn in conns.values():
            conn.close()
    finally:
        close_all(readers, downlinks, starters)
    measured = range(WARM_UP, WARM_UP + publishes)
    deliveries = sum(tally.counts[n] for n in measured)
    lat = sorted(ns for n in measured for ns in tally.latencies[n])
    last = sorted(max(tally.latencies[n]) for n in measured)
    return {
        "streams": streams,
        "downlinks": count,
        "per_downlink": per_downlink,
        "publishes": publishes,
        "deliveries": deliveries,
        "setup_s": setup_s,
        "p50_ms": _pct(lat, 0.5),
        "p99_ms": _pct(lat, 0.99),
        "max_ms": lat[-1] / 1e6,
        "last_p50_ms": _pct(last, 0.5),  # per publish: its slowest delivery
        "cpu_us": workers_cpu / deliveries * 1e6,
        "redis_us": redis_cpu / deliveries * 1e6,
        "client_us": client_cpu / deliveries * 1e6,
        "measured_s": wall,
        "start_reconnects": sum(p.reconnects for p in starters.values()),
    }


def _size(contender: Any, log_dir: Path, streams: int, per: int, publishes: int, **cluster: Any) -> dict[str, Any]:
    timeout = 60 + streams * 0.03
    with Cluster(contender.name, contender.server, log_dir, **cluster) as running:
        try:
            return run_job(
                "w9",
                {
                    "ports": running.ports,
                    "worker_pids": running.worker_pids,
                    "redis_pids": running.redis_pids,
                    "stream_id": running.info["watch"],
                    "streams": streams,
                    "per_downlink": per,
                    "publishes": publishes,
                    "timeout": timeout,
                },
                timeout=timeout * (publishes + 6) + 120,
            )
        except Exception as err:
            raise RuntimeError(f"{err}\n{running.log_tail()}") from err


def measure_cluster(contender: Any, cfg: Config, log_dir: Path) -> dict[str, Any]:
    """Each size on a fresh cluster (redis-server + 2 workers), then the one-worker reference;
    a failed size is reported as an error, the others still run."""
    out: dict[str, Any] = {"errors": []}
    plan: list[tuple[str, int, int, int, dict[str, Any]]] = [
        (f"_{n}", n, per_downlink(n, cfg), p, {}) for n, p in zip(cfg.w9_sizes, cfg.w9_publishes, strict=True)
    ]
    plan.append(("", REFERENCE, 1, cfg.w9_publishes[0], {"workers": 1, "redis": False}))
    for suffix, streams, per, publishes, cluster in plan:
        try:
            result = _size(contender, log_dir, streams, per, publishes, **cluster)
        except Exception as err:
            where = "one worker, no Redis" if cluster else f"{per} per downlink"
            out["errors"].append(f"{streams:,} streams ({where}): {err}")
            continue
        prefix = "mem_" if cluster else ""
        for key in (
            "p50_ms",
            "p99_ms",
            "cpu_us",
            "redis_us",
            "client_us",
            "last_p50_ms",
            "max_ms",
            "setup_s",
            "downlinks",
            "deliveries",
            "start_reconnects",
        ):
            if not (cluster and key == "redis_us"):
                out[f"{prefix}{key}{suffix}"] = result[key]
    for prefix, cluster, away in (("", {"workers": 1, "redis": False}, "half"), ("bus_", {}, "half"), ("cross_", {}, "all")):
        try:
            frames = _frames(contender, log_dir, REFERENCE, away, **cluster)
        except Exception as err:
            where = "one worker" if cluster else f"two workers, {away} of the runs away"
            out["errors"].append(f"frames, {REFERENCE:,} streams ({where}): {err}")
            continue
        for key in ("p50_ms", "p99_ms", "cpu_us", "frames", "frames_per_s"):
            out[f"{prefix}frame_{key}"] = frames[key]
    return out


def _frames(contender: Any, log_dir: Path, streams: int, away: str, **cluster: Any) -> dict[str, Any]:
    """W9's frame-delay part (`w9_frames.py`) on a fresh cluster; `away`: "half" or "all" of
    the runs on the other worker than their downlink."""
    timeout = 60 + streams * 0.03
    with Cluster(contender.name, contender.server, log_dir, **cluster) as running:
        try:
            return run_job(
                "w9f",
                {
                    "ports": running.ports,
                    "worker_pids": running.worker_pids,
                    "stream_id": running.info["frames"],
                    "streams": streams,
                    "timeout": timeout,
                    "away": away,
                },
                timeout=timeout + 120,
            )
        except Exception as err:
            raise RuntimeError(f"{err}\n{running.log_tail()}") from err
