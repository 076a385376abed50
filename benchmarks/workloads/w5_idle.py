"""W5: idle streams on one Flash worker: memory per idle downlink and per idle run, heartbeats.

With one multiplexed downlink per browser there are two costs. (b) `kb_per_run`: 10,000 idle
runs on `SHARED_DOWNLINKS` downlinks: RSS per run on a shared downlink (measured first, while
few downlinks send heartbeats). (a) `kb_per_stream`: then 10,000 browsers, each with its
downlink (one open SSE response) and one idle run on it: RSS per downlink + run. Both are held
at once (so neither reuses memory the other freed), then the share of the 10,000 downlinks that
receive a heartbeat (`stream_heartbeat=1`) in a 2.5 s window. Runs on a fresh server (`FRESH_SERVER`), so no earlier workload's freed
memory is reused by the streams and hides their cost.
"""

from __future__ import annotations

import asyncio
import resource
import time
from typing import Any, Awaitable, Callable

import psutil

from .. import apps
from ..contenders import Server
from ..load import run_job
from ..streams import ERROR, HEARTBEAT, PROPS, Downlink, Starters
from . import Config, Metric

NAME = "W5"
TITLE = "10,000 idle downlinks, then 10,000 idle runs on 10 downlinks, one worker"
TARGET = "<= 20 KB RSS per idle stream (here: per downlink with one idle run), heartbeats flowing"
METRICS = [
    Metric("kb_per_stream", "KB", False, "RSS per idle downlink with one run"),
    Metric("kb_per_run", "KB", False, "RSS per idle run on a shared downlink"),
    Metric("heartbeat_pct", "%", True, "downlinks with heartbeats"),
]
FRESH_SERVER = True
WARM_STREAMS = 50
SHARED_DOWNLINKS = 10
PARALLEL = 64  # downlinks being opened, and start requests in flight, at once
HEARTBEAT_WINDOW = 2.5  # seconds; with a 1 s heartbeat every stream should see two


def applies(contender: Any) -> bool:
    return contender.app in ("flash", "raw")  # raw: the server's own cost per open stream


def raise_fd_limit(wanted: int) -> int:
    """Lift the soft open-files limit toward `wanted` (never past the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


class IdleDownlink:
    """One open downlink; counts the props messages and heartbeats it receives."""

    def __init__(self, downlink: Downlink) -> None:
        self.downlink = downlink
        self.props = 0
        self.heartbeats = 0
        self.task: asyncio.Task[None] | None = None
        self._want = 0
        self._reached: asyncio.Future[None] | None = None
        self.failed = ""

    @classmethod
    async def open(cls, port: int) -> "IdleDownlink":
        idle = cls(await Downlink.open(port))
        idle.task = asyncio.create_task(idle._count())
        return idle

    async def _count(self) -> None:
        async for block in self.downlink.blocks():
            self.heartbeats += block.count(HEARTBEAT)
            self.props += block.count(PROPS)
            if ERROR in block or b"event: gone\n" in block:
                self._fail(f"a run failed: {block[:300]!r}")
                return
            if self._reached is not None and self.props >= self._want and not self._reached.done():
                self._reached.set_result(None)
        self._fail("the server ended the downlink")

    def _fail(self, why: str) -> None:
        self.failed = why
        if self._reached is not None and not self._reached.done():
            self._reached.set_exception(RuntimeError(why))

    async def wait_props(self, count: int, timeout: float = 300.0) -> None:
        """Until `count` props messages have arrived in all (each idle run sends one)."""
        if self.props >= count:
            return
        if self.failed:
            raise RuntimeError(self.failed)
        self._want, self._reached = count, asyncio.get_running_loop().create_future()
        await asyncio.wait_for(asyncio.shield(self._reached), timeout)

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.downlink.close()


async def _gated(count: int, parallel: int, make: Callable[[int], Awaitable[Any]]) -> list[Any]:
    gate = asyncio.Semaphore(parallel)

    async def one(i: int) -> Any:
        async with gate:
            return await make(i)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def _downlinks_with_a_run(port: int, stream_id: str, starters: Starters, count: int) -> list[IdleDownlink]:
    """`count` browsers: a downlink each and one idle run on it, seen to send its first message."""

    async def one(_i: int) -> IdleDownlink:
        idle = await IdleDownlink.open(port)
        await starters.start(port, stream_id, apps.IDLE_INPUT, 1, idle.downlink.token)
        await idle.wait_props(1)
        return idle

    return await _gated(count, PARALLEL, one)


async def _runs_on(port: int, stream_id: str, starters: Starters, shared: list[IdleDownlink], count: int) -> None:
    """`count` more idle runs spread over the `shared` downlinks; waits for every first message."""
    wanted = [d.props + count // len(shared) + (i < count % len(shared)) for i, d in enumerate(shared)]
    await _gated(
        count, PARALLEL, lambda i: starters.start(port, stream_id, apps.IDLE_INPUT, 1, shared[i % len(shared)].downlink.token)
    )
    await asyncio.gather(*(d.wait_props(w) for d, w in zip(shared, wanted, strict=True)))


async def client(port: int, stream_id: str, count: int, worker_pid: int) -> dict[str, Any]:
    raise_fd_limit(count + WARM_STREAMS + 1000)
    server = psutil.Process(worker_pid)
    starters = await Starters.open(port, PARALLEL)
    warm = await _downlinks_with_a_run(port, stream_id, starters, WARM_STREAMS)
    shared = [await IdleDownlink.open(port) for _ in range(SHARED_DOWNLINKS)]
    await _runs_on(port, stream_id, starters, shared, WARM_STREAMS)
    await asyncio.sleep(1.0)

    # (b) first, while few downlinks send heartbeats: idle runs on SHARED_DOWNLINKS downlinks
    rss_before = server.memory_info().rss
    start = time.perf_counter()
    await _runs_on(port, stream_id, starters, shared, count)
    runs_seconds = time.perf_counter() - start
    await asyncio.sleep(1.5)
    rss_runs = server.memory_info().rss

    # (a) one downlink per browser, one idle run on each
    start = time.perf_counter()
    browsers = await _downlinks_with_a_run(port, stream_id, starters, count)
    open_seconds = time.perf_counter() - start
    await asyncio.sleep(1.5)
    rss_downlinks = server.memory_info().rss

    for idle in browsers + shared:
        idle.heartbeats = 0
    server.cpu_percent(interval=None)
    await asyncio.sleep(HEARTBEAT_WINDOW)
    cpu = server.cpu_percent(interval=None)
    beating = sum(1 for d in browsers if d.heartbeats > 0)
    mean_beats = sum(d.heartbeats for d in browsers) / count
    shared_beating = sum(1 for d in shared if d.heartbeats > 0)
    for idle in browsers + shared + warm:
        idle.close()
    starters.close()
    await asyncio.sleep(0.2)
    return {
        "streams": count,
        "open_seconds": open_seconds,
        "runs_seconds": runs_seconds,
        "rss_before_mb": rss_before / 2**20,
        "rss_runs_mb": rss_runs / 2**20,
        "rss_downlinks_mb": rss_downlinks / 2**20,
        "kb_per_stream": (rss_downlinks - rss_runs) / count / 1024,
        "kb_per_run": (rss_runs - rss_before) / count / 1024,
        "heartbeat_pct": 100.0 * beating / count,
        "heartbeats_per_stream": mean_beats,
        "shared_heartbeat_pct": 100.0 * shared_beating / len(shared),
        "idle_cpu_pct": cpu,  # worker CPU while only heartbeats flow
        "start_reconnects": starters.reconnects,  # keep-alive connections the server closed
    }


def measure(server: Server, cfg: Config) -> dict[str, Any]:
    return run_job(
        "w5",
        {
            "port": server.port,
            "stream_id": cfg.stream_ids.get("idle", "idle"),
            "count": cfg.w5_streams,
            "worker_pid": server.worker_pid,
        },
        timeout=900,
    )
