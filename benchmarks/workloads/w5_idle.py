"""W5: 10,000 open idle event streams on one Flash worker: memory per stream, heartbeats flowing.

Runs on a fresh server (`FRESH_SERVER`), so no earlier workload's freed memory is reused by
the streams and hides their cost. The app is built with `Flash(stream_heartbeat=1)`.
"""
from __future__ import annotations

import asyncio
import resource
import time
import uuid
from typing import Any

import psutil

from .. import apps
from ..client import Connection, post_json
from ..contenders import Server
from ..load import run_job
from . import Config, Metric

NAME = "W5"
TITLE = "10,000 open idle streams, one worker"
TARGET = "<= 20 KB RSS per stream, heartbeats flowing"
METRICS = [
    Metric("kb_per_stream", "KB", False, "RSS per stream"),
    Metric("heartbeat_pct", "%", True, "streams with heartbeats"),
]
FRESH_SERVER = True
WARM_STREAMS = 50
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


class IdleStream:
    """One open stream; after its first props message it only counts heartbeats."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.heartbeats = 0
        self.task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, port: int, raw: bytes) -> "IdleStream":
        conn = await Connection.open(port, timeout=30)
        conn.writer.write(raw)
        status, _ = await conn.read_head()
        if status != 200:
            raise RuntimeError(f"stream answered {status}")
        stream = cls(conn)
        chunks = conn.chunks()
        while True:  # open event, then the one props message
            chunk = await chunks.__anext__()
            if b"event: props" in chunk:
                break
        stream.task = asyncio.create_task(stream._count(chunks))
        return stream

    async def _count(self, chunks: Any) -> None:
        async for chunk in chunks:
            self.heartbeats += chunk.count(b": heartbeat")

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.conn.close()


async def _open_all(port: int, stream_id: str, count: int, parallel: int = 64) -> list[IdleStream]:
    gate = asyncio.Semaphore(parallel)

    async def one() -> IdleStream:
        raw = post_json(f"/_flash/stream/{stream_id}", port, apps.stream_body(apps.IDLE_INPUT, 1, uuid.uuid4().hex))
        async with gate:
            return await IdleStream.open(port, raw)

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def client(port: int, stream_id: str, count: int, worker_pid: int) -> dict[str, Any]:
    raise_fd_limit(count + WARM_STREAMS + 1000)
    server = psutil.Process(worker_pid)
    warm = await _open_all(port, stream_id, WARM_STREAMS)
    await asyncio.sleep(1.0)
    rss_before = server.memory_info().rss
    start = time.perf_counter()
    streams = await _open_all(port, stream_id, count)
    open_seconds = time.perf_counter() - start
    await asyncio.sleep(1.5)
    for stream in streams:
        stream.heartbeats = 0
    server.cpu_percent(interval=None)
    await asyncio.sleep(HEARTBEAT_WINDOW)
    cpu = server.cpu_percent(interval=None)
    beating = sum(1 for s in streams if s.heartbeats > 0)
    mean_beats = sum(s.heartbeats for s in streams) / count
    rss_after = server.memory_info().rss
    for stream in streams + warm:
        stream.close()
    await asyncio.sleep(0.2)
    return {
        "streams": count,
        "open_seconds": open_seconds,
        "rss_before_mb": rss_before / 2**20,
        "rss_after_mb": rss_after / 2**20,
        "kb_per_stream": (rss_after - rss_before) / count / 1024,
        "heartbeat_pct": 100.0 * beating / count,
        "heartbeats_per_stream": mean_beats,
        "idle_cpu_pct": cpu,  # worker CPU while only heartbeats flow
    }


def measure(server: Server, cfg: Config) -> dict[str, Any]:
    return run_job("w5", {"port": server.port, "stream_id": cfg.stream_ids.get("idle", "idle"), "count": cfg.w5_streams,
                          "worker_pid": server.worker_pid}, timeout=600)
