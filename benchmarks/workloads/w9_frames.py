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


async def client(ports: list[int], worker_pids: list[int], stream_id: str, streams: int,
                 timeout: float) -> dict[str, Any]:
    """Open one downlink per stream, start every stream, then time frames for `FRAMES_S`."""
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
        port = ports[(i + i // 2) % len(ports)]  # two workers: half away from their downlink
        return await starters[port].start(port, stream_id, FRAMES_INPUT, 1, downlinks[i].token)

    try:
        await asyncio.wait_for(gated(streams, PARALLEL, start), timeout)
        await asyncio.sleep(WARM_S)
        cpu0, wall0 = cpu_seconds(worker_pids), time.perf_counter()
        measuring = True
        await asyncio.sleep(FRAMES_S)
        measuring = False
        cpu, wall = cpu_seconds(worker_pids) - cpu0, time.perf_counter() - wall0
    finally:
        close_all(readers, downlinks, starters)
    if failed:
        raise RuntimeError(failed[0])
    if not latencies:
        raise RuntimeError("no frame arrived while measuring")
    lat = sorted(latencies)
    return {"streams": streams, "frames": len(lat), "frames_per_s": len(lat) / wall,
            "p50_ms": _pct(lat, 0.5), "p99_ms": _pct(lat, 0.99), "cpu_us": cpu / len(lat) * 1e6}
