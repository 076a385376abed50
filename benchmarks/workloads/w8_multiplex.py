"""W8: 100 concurrent streams on ONE downlink: total messages/s and server CPU per message.

One browser's downlink; 100 runs of the `ticker` event callback started on it at once (start
requests over 10 keep-alive connections), each sending `w8_messages` props messages with an
`asyncio.sleep(0)` between them; all of them share the downlink's one SSE response. Timed from
the first start request to the last run's `done`. Flash and the raw floor (which serves the same
protocol by hand); Dash 4.4 has no multiplexed transport (n/a).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .. import apps
from ..contenders import Server
from ..load import run_job
from ..streams import DONE, ERROR, PROPS, Downlink, Starters
from . import Config, Metric

NAME = "W8"
TITLE = "100 concurrent streams on one downlink"
TARGET = "none (reported): Flash's figures, for comparison with W4's one stream"
METRICS = [Metric("msg_s", "msg/s", True, "messages/s, all streams"), Metric("cpu_us", "us/msg", False, "server CPU per message")]
STARTERS = 10  # keep-alive connections the start requests share
WARM_UP = (10, 100)  # runs x messages, before the measured burst


def applies(contender: Any) -> bool:
    return contender.app in ("flash", "raw")


async def burst(port: int, stream_id: str, runs: int, count: int) -> dict[str, Any]:
    """`runs` tick runs of `count` messages each, started together on one new downlink."""
    downlink = await Downlink.open(port)
    starters = await Starters.open(port, min(STARTERS, runs))
    seen = done = 0
    start = time.perf_counter()
    starting = asyncio.gather(*(starters.start(port, stream_id, apps.TICK_INPUT, count, downlink.token) for _ in range(runs)))
    try:
        async for block in downlink.blocks():
            seen += block.count(PROPS)
            done += block.count(DONE)
            if ERROR in block:
                raise RuntimeError(f"a run failed: {block[:300]!r}")
            if done >= runs:
                break
        elapsed = time.perf_counter() - start
        handles = await starting
    finally:
        if not starting.done():
            starting.cancel()
        starters.close()
        downlink.close()
    if seen != runs * count or len(set(handles)) != runs:
        raise RuntimeError(f"expected {runs * count} messages from {runs} runs, got {seen} from {len(set(handles))}")
    return {"messages": seen, "seconds": elapsed, "msg_s": seen / elapsed}


async def client(port: int, stream_id: str, runs: int, count: int) -> dict[str, Any]:
    await burst(port, stream_id, *WARM_UP)
    return await burst(port, stream_id, runs, count)


def measure(server: Server, cfg: Config) -> dict[str, Any]:
    before = server.cpu_seconds()
    out = run_job(
        "w8",
        {"port": server.port, "stream_id": cfg.stream_ids.get("tick", ""), "runs": cfg.w8_streams, "count": cfg.w8_messages},
        timeout=300,
    )
    cpu = server.cpu_seconds() - before  # includes the warm-up burst
    messages = cfg.w8_streams * cfg.w8_messages + WARM_UP[0] * WARM_UP[1]
    return {"msg_s": out["msg_s"], "cpu_us": cpu / messages * 1e6, "seconds": out["seconds"]}
