"""The soak's client (`python -m benchmarks.load soak ...`, one asyncio process on uvloop).

Three loads at once, for `minutes`, against two workers sharing one redis-server:
- `streams` live streams, one downlink (browser) each, half of them run on the other worker than
  their downlink, each yielding one message a second (`cluster_app.soak`);
- churn: cycles at `churn_rate` a second, each a new downlink + one run, aborted in one of three
  ways in turn: closed (`_flash/close`) after its first message, dropped after its first
  message, dropped as soon as the start was answered (the last two linger for the resume window);
- ordinary callbacks at `callback_rate` a second.

It samples each worker (RSS and open files from psutil, asyncio tasks, runs and downlinks from
the app's `/_bench/diag`) and Redis (`INFO memory`, `DBSIZE`) at the start, every `sample_s`,
when the churn passes each of `checkpoints` cycles, at the end, and twice after the churn stops
(its lingering runs gone, then their Redis keys). Nothing is asserted: failures are counted and reported.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import orjson
import psutil

from . import apps
from .client import Connection, HTTPError, build_request, post_json
from .cluster_app import PING, SOAK_INPUT
from .streams import CLOSE_PATH, ERROR, PROPS, Downlink, Starters
from .workloads.w9_fanout import PARALLEL, gated

CHURNERS = 32  # cycles in flight at most
GONE = b"event: gone\n"


class Soak:
    """The running loads' counters and the samples taken so far."""

    def __init__(self, ports: list[int], worker_pids: list[int], redis_url: str) -> None:
        import redis.asyncio

        self.ports = ports
        self.procs = [psutil.Process(pid) for pid in worker_pids]
        self.redis = redis.asyncio.Redis.from_url(redis_url)
        self.t0 = time.monotonic()
        self.cycles = 0
        self.live_messages = 0
        self.failures: Counter[str] = Counter()
        self.callbacks: list[float] = []  # latencies (s) of answered callbacks
        self.samples: list[dict[str, Any]] = []

    def fail(self, kind: str) -> None:
        self.failures[kind] += 1

    async def _diag(self, port: int) -> dict[str, Any]:
        conn = await Connection.open(port, timeout=30)
        try:
            status, body = await asyncio.wait_for(conn.request(build_request("GET", "/_bench/diag", port)), 30)
        finally:
            conn.close()
        if status != 200:
            raise HTTPError(f"diag answered {status}")
        return dict(orjson.loads(body))

    async def sample(self, label: str) -> dict[str, Any]:
        """One row: per worker (in `ports` order) and Redis, with the time and cycles so far."""
        cycles = self.cycles
        try:
            diags = await asyncio.gather(*(self._diag(port) for port in self.ports))
        except (OSError, asyncio.TimeoutError, HTTPError) as err:
            diags = [{"error": str(err)} for _ in self.ports]
        memory = await self.redis.info("memory")
        row = {
            "label": label,
            "t_s": round(time.monotonic() - self.t0, 1),
            "cycles": cycles,
            "rss_mb": [round(p.memory_info().rss / 2**20, 1) for p in self.procs],
            "fds": [p.num_fds() for p in self.procs],
            "tasks": [d.get("tasks") for d in diags],
            "runs": [d.get("runs") for d in diags],
            "downlinks": [d.get("downlinks") for d in diags],
            "threads": [d.get("threads") for d in diags],
            "redis_used_mb": round(memory["used_memory"] / 2**20, 1),
            "redis_rss_mb": round(memory["used_memory_rss"] / 2**20, 1),
            "task_kinds": [d.get("task_kinds") for d in diags],
            "followers": [d.get("followers") for d in diags],
            "redis_keys": await self.redis.dbsize(),
            "live_messages": self.live_messages,
            "callbacks": len(self.callbacks),
        }
        self.samples.append(row)
        print(
            f"soak {label:>10} t={row['t_s']:>6.0f}s cycles={cycles:>6} rss={row['rss_mb']} fds={row['fds']} "
            f"tasks={row['tasks']} runs={row['runs']} redis={row['redis_used_mb']} MB",
            flush=True,
        )
        return row


Live = tuple[list[Downlink], list[asyncio.Task[None]], dict[int, Starters]]


async def _live(soak: Soak, stream_id: str, streams: int) -> Live:
    """Open the live streams; their readers count messages and failures until cancelled."""
    ports = soak.ports

    async def read(downlink: Downlink) -> None:
        async for block in downlink.blocks():
            soak.live_messages += block.count(PROPS)
            if ERROR in block or GONE in block:
                soak.fail("live run ended")
        soak.fail("live downlink ended")

    downlinks = await gated(streams, PARALLEL, lambda i: Downlink.open(ports[i % 2], timeout=60))
    readers = [asyncio.create_task(read(d)) for d in downlinks]
    starters = {port: await Starters.open(port, 8) for port in ports}
    await gated(
        streams,
        PARALLEL,
        lambda i: starters[ports[(i + i // 2) % 2]].start(ports[(i + i // 2) % 2], stream_id, SOAK_INPUT, 1, downlinks[i].token),
    )
    return downlinks, readers, starters


class _Requests:
    """One keep-alive connection per worker for one churner's (or the callbacks') short requests."""

    def __init__(self) -> None:
        self.conns: dict[int, Connection] = {}

    async def post(self, port: int, path: str, body: Any) -> tuple[int, bytes]:
        raw = post_json(path, port, body)
        for attempt in (0, 1):
            if port not in self.conns:
                self.conns[port] = await Connection.open(port)
            try:
                return await self.conns[port].request(raw)
            except (asyncio.IncompleteReadError, ConnectionError):  # an idle keep-alive closed
                self.conns.pop(port).close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()


async def _cycle(soak: Soak, requests: _Requests, stream_id: str, k: int) -> None:
    """One churn cycle: a new downlink and run on alternating workers, then abort (k % 3 says how)."""
    down_port, run_port = soak.ports[k % 2], soak.ports[(k // 2) % 2]
    downlink = await Downlink.open(down_port, timeout=30)
    try:
        status, body = await requests.post(
            run_port, f"/_flash/stream/{stream_id}", apps.stream_body(SOAK_INPUT, 1, downlink.token)
        )
        if status != 200:
            soak.fail(f"churn start {status}")
            return
        if k % 3 == 2:
            return  # dropped at once
        async for block in downlink.blocks():
            if PROPS in block:
                break
        if k % 3 == 0:
            handle = orjson.loads(body)["run"]
            status, _ = await requests.post(run_port, CLOSE_PATH, {"downlink": downlink.token, "runs": [handle]})
            if status != 200:
                soak.fail(f"churn close {status}")
    finally:
        downlink.close()


async def _churn(soak: Soak, stream_id: str, rate: float, checkpoints: list[int], until: float) -> None:
    """Cycles paced at `rate` a second (as fast as they go when behind), sampling at checkpoints."""
    loop = asyncio.get_running_loop()
    start, issued = loop.time(), 0
    pending = sorted(checkpoints)
    samplers: set[asyncio.Task[Any]] = set()

    async def churner() -> None:
        nonlocal issued
        requests = _Requests()
        try:
            while loop.time() < until:
                k, issued = issued, issued + 1
                delay = start + k / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    await asyncio.wait_for(_cycle(soak, requests, stream_id, k), 30)
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, HTTPError) as err:
                    soak.fail(f"churn {type(err).__name__}")
                    requests.close()
                    requests = _Requests()
                soak.cycles += 1
                while pending and soak.cycles >= pending[0]:
                    task = asyncio.create_task(soak.sample(f"{pending.pop(0):,} cycles"))
                    samplers.add(task)
                    task.add_done_callback(samplers.discard)
        finally:
            requests.close()

    await asyncio.gather(*(churner() for _ in range(CHURNERS)))
    await asyncio.gather(*samplers)


async def _callbacks(soak: Soak, rate: float, until: float) -> None:
    loop = asyncio.get_running_loop()
    requests = _Requests()
    k = 0
    try:
        while loop.time() < until:
            k += 1
            t = loop.time()
            try:
                status, _ = await asyncio.wait_for(
                    requests.post(soak.ports[k % 2], "/_dash-update-component", apps.callback_body(PING, k)), 30
                )
                if status == 200:
                    soak.callbacks.append(loop.time() - t)
                else:
                    soak.fail(f"callback {status}")
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as err:
                soak.fail(f"callback {type(err).__name__}")
                requests.close()
                requests = _Requests()
            await asyncio.sleep(max(0.0, t + 1 / rate - loop.time()))
    finally:
        requests.close()


async def _every(soak: Soak, seconds: float, until: float) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() + seconds < until:
        await asyncio.sleep(seconds)
        await soak.sample("periodic")


def _pct(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else None


async def client(
    ports: list[int],
    worker_pids: list[int],
    redis_url: str,
    stream_id: str,
    streams: int,
    minutes: float,
    checkpoints: list[int],
    churn_rate: float,
    callback_rate: float,
    sample_s: float,
    settle: list[tuple[str, float]],
) -> dict[str, Any]:
    soak = Soak(ports, worker_pids, redis_url)
    loop = asyncio.get_running_loop()
    downlinks, readers, starters = await _live(soak, stream_id, streams)
    try:
        await asyncio.sleep(5)  # every live run has sent a few messages
        await soak.sample("start")
        messages0, t0 = soak.live_messages, loop.time()
        until = t0 + minutes * 60
        await asyncio.gather(
            _churn(soak, stream_id, churn_rate, checkpoints, until),
            _callbacks(soak, callback_rate, until),
            _every(soak, sample_s, until),
        )
        live_rate = (soak.live_messages - messages0) / (loop.time() - t0)
        churn_s = loop.time() - t0
        await soak.sample("end")
        ended = loop.time()
        for label, after in settle:  # the dropped churn downlinks' resume windows lapse, then their keys
            await asyncio.sleep(max(0.0, ended + after - loop.time()))
            await soak.sample(label)
    finally:
        for task in readers:
            task.cancel()
        for downlink in downlinks:
            downlink.close()
        for pool in starters.values():
            pool.close()
        await soak.redis.aclose() if hasattr(soak.redis, "aclose") else await soak.redis.close()
    return {
        "streams": streams,
        "minutes": minutes,
        "churn_s": churn_s,
        "cycles": soak.cycles,
        "cycles_per_s": soak.cycles / churn_s,
        "live_msgs_per_s": live_rate,
        "callbacks": len(soak.callbacks),
        "callback_p50_ms": _pct(soak.callbacks, 0.5),
        "callback_p99_ms": _pct(soak.callbacks, 0.99),
        "failures": dict(soak.failures),
        "samples": soak.samples,
    }
