"""The stream bus's own asyncio tasks on a real redis-server: none is left behind.

- Concurrent first requests on a fresh worker start the bus's two background tasks once (each
  used to start its own pair, all but one unreferenced and running forever).
- Downlinks dropped right after their start is answered (the soak's churn "kind 2", which left
  a follower waiting forever on a subscription once redis-py swallowed its cancellation): once
  their resume windows lapse the worker's tasks are back to what it had before.
Two in-process workers, as in test_bus_inprocess.py."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.conftest import run
from tests.integration.test_bus_inprocess import Pair
from tests.streaming.downlink_client import Downlink, wait_until

CYCLES = 60
PARALLEL = 6


def task_kinds() -> Counter[str]:
    return Counter(getattr(task.get_coro(), "__qualname__", "?") for task in asyncio.all_tasks())


def test_concurrent_first_requests_start_the_bus_tasks_once(redis_url):
    async def go():
        async with Pair(redis_url) as pair:
            bus = pair.a.stream_runs.bus
            await asyncio.gather(*(bus.ensure_started() for _ in range(20)))
            started = list(bus._tasks)
            kinds = task_kinds()
            await bus.stop()
            await asyncio.sleep(0)
            stopped = task_kinds()
            return kinds, started, stopped

    kinds, started, stopped = run(go())
    assert kinds["Liveness.tick_forever"] == 1 and kinds["StreamBus._follow_control"] == 1, kinds
    assert len(started) == 2
    assert not stopped["Liveness.tick_forever"] and not stopped["StreamBus._follow_control"], (
        "stop ends the one pair: none was left unreferenced"
    )


async def _dropped_at_once(pair: Pair, k: int) -> None:
    """A page opens its downlink on A, starts a run (on B or A), and is gone when the start answers."""
    page = Downlink(pair.ca)
    async with page:
        client = pair.cb if k % 2 else pair.ca
        from tests.integration.test_bus_inprocess import on

        await on(client, page).start(pair.a.server.config["endless"])
        await page.cut()


def test_downlinks_dropped_right_after_their_start_leave_no_task_behind(redis_url):
    async def go():
        async with Pair(redis_url) as pair:
            await _dropped_at_once(pair, 0)  # each worker's bus and reader start: their own tasks
            await _dropped_at_once(pair, 1)

            def settled() -> bool:
                return not pair.a.stream_runs.bus.followers and not len(pair.a.stream_runs) and not len(pair.b.stream_runs)

            await wait_until(settled, turns=500)
            await asyncio.sleep(0.5)
            baseline = task_kinds()
            gate = asyncio.Semaphore(PARALLEL)

            async def one(k: int) -> None:
                async with gate:
                    await _dropped_at_once(pair, k)

            await asyncio.gather(*(one(k) for k in range(CYCLES)))
            await wait_until(settled, turns=750)  # resume window (2 s) + presence lapse
            await wait_until(lambda: task_kinds() == baseline, turns=500)
            return baseline, task_kinds(), settled()

    baseline, after, settled = run(go())
    assert settled, "every run ended and no follower is registered"
    grown = {name: after[name] - baseline[name] for name in after | baseline if after[name] != baseline[name]}
    assert not grown, f"tasks left behind by {CYCLES} dropped downlinks: {grown}"
