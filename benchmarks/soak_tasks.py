"""`python -m benchmarks.soak_tasks [uvicorn|hypercorn] [cycles]`: which of the soak's churn
cycles leaves asyncio tasks behind, and which tasks.

Starts the soak's cluster (two workers + redis-server, `cluster.py`), then runs `cycles` churn
cycles of each kind in turn (`soak_client._cycle`: 0 = closed after the first message, 1 =
dropped after it, 2 = dropped as soon as the start is answered), 8 at a time, waits until their
resume windows have lapsed and prints, per worker, the change in asyncio tasks by coroutine
(from the app's `/_bench/diag`). A kind that leaves tasks that live on is a leak: the soak's
`asyncio tasks` column grows with it. Reported, never asserted.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from .cluster import Cluster
from .soak_client import Soak, _cycle, _Requests

SETTLE_S = 12.0  # resume window (5 s) + presence lapse (2 s) + a margin
PARALLEL = 8


async def _kinds(cluster: Cluster, cycles: int) -> None:
    assert cluster.redis is not None
    soak = Soak(cluster.ports, cluster.worker_pids, cluster.redis.url)
    stream_id = cluster.info["soak"]
    gate = asyncio.Semaphore(PARALLEL)

    async def one(k: int) -> None:
        async with gate:
            requests = _Requests()
            try:
                await asyncio.wait_for(_cycle(soak, requests, stream_id, k), 30)
            finally:
                requests.close()

    await one(0)  # the first cycle starts each worker's bus (its own few tasks)
    await asyncio.sleep(SETTLE_S)
    for kind in (0, 1, 2):
        before = await soak.sample(f"before {kind}")
        await asyncio.gather(*(one(3 * i + kind) for i in range(cycles)))
        await asyncio.sleep(SETTLE_S)
        after = await soak.sample(f"after {kind}")
        for worker in (0, 1):
            was: dict[str, Any] = before["task_kinds"][worker] or {}
            now: dict[str, Any] = after["task_kinds"][worker] or {}
            grown = {
                name: now.get(name, 0) - was.get(name, 0) for name in set(was) | set(now) if now.get(name, 0) != was.get(name, 0)
            }
            print(
                f"kind {kind}, worker {worker}: {cycles} cycles, tasks {before['tasks'][worker]} -> "
                f"{after['tasks'][worker]}, by coroutine: {grown or 'no change'}",
                flush=True,
            )
    print(f"failures: {dict(soak.failures) or 'none'}")
    await soak.redis.aclose() if hasattr(soak.redis, "aclose") else await soak.redis.close()


def main() -> None:
    server = sys.argv[1] if len(sys.argv) > 1 else "uvicorn"
    cycles = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    with Cluster(f"flash/{server}", server, Path(tempfile.mkdtemp(prefix="flash-soak-tasks-"))) as cluster:
        asyncio.run(_kinds(cluster, cycles))


if __name__ == "__main__":
    main()
