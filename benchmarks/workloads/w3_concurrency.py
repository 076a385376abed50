"""W3: 1,000 concurrent callbacks that each wait 100 ms, on one worker.

The client opens every connection first, then writes all requests back to back and times
until the last answer: with a 100 ms floor, the excess is what the framework adds under
concurrency. ASGI contenders run `await asyncio.sleep(0.1)`; Dash on Flask runs `time.sleep`
in its 16 threads (so it needs about 1000/16 x 100 ms).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from .. import apps
from ..client import open_many, post_json
from ..contenders import Server
from ..load import run_job
from . import Config, Metric

NAME = "W3"
TITLE = "1,000 concurrent 100 ms callbacks, one worker"
TARGET = "all done within 150 ms of the 100 ms floor (<= 250 ms)"
METRICS = [
    Metric("total_ms", "ms", False, "last answer"),
    Metric("p50_ms", "ms", False, "median answer"),
]
FLOOR_MS = apps.SLOW_SECONDS * 1000
BUDGET_MS = 150.0


def applies(contender: Any) -> bool:
    return True


async def _answer(conn: Any) -> tuple[float, int]:
    status, _ = await conn.response()
    return time.perf_counter(), status


async def client(port: int, target: list[str], count: int, waves: int) -> dict[str, Any]:
    """Run `waves` waves of `count` simultaneous requests; report each wave's timings."""
    raw = post_json("/_dash-update-component", port, apps.callback_body((target[0], target[1])))
    results = []
    for _ in range(waves):
        conns = await open_many(port, count)
        await asyncio.sleep(0.2)  # let the server settle after the connection burst
        start = time.perf_counter()
        for conn in conns:
            conn.writer.write(raw)
        answers = await asyncio.gather(*(_answer(c) for c in conns))
        done = [t for t, _ in answers]
        errors = sum(status != 200 for _, status in answers)
        latencies = sorted((t - start) * 1000 for t in done)
        for conn in conns:
            conn.close()
        results.append(
            {
                "total_ms": latencies[-1],
                "p50_ms": statistics.median(latencies),
                "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
                "errors": errors,
            }
        )
        await asyncio.sleep(0.3)
    return {"waves": results}


def measure(server: Server, cfg: Config) -> dict[str, Any]:
    threads = server.contender.app == "dash_flask"
    target = apps.SLOW_SYNC if threads else apps.SLOW_ASYNC
    waves = 1 if threads else cfg.w3_waves  # a threaded wave takes ~7 s and barely varies
    out = run_job("w3", {"port": server.port, "target": list(target), "count": cfg.w3_callbacks, "waves": waves}, timeout=300)
    waves = out["waves"]
    if any(w["errors"] for w in waves):
        raise RuntimeError(f"{server.contender.name}: {sum(w['errors'] for w in waves)} failed requests in W3")
    # One sample per wave keeps the median honest when a wave hits a hiccup.
    return {key: [w[key] for w in waves] for key in ("total_ms", "p50_ms", "p99_ms")}
