"""Every run ends, whatever the moment it is closed (in-process; real servers: test_stream_churn.py
and test_run_lifecycle_servers.py, the bus: test_run_lifecycle_bus.py).

A run can be closed before its pump task took a step, while its sync generator waits for a pool
thread, mid-step (sync and async), or by a shutdown. Each time: the page gets its final event,
no registry keeps it (live runs, the downlink's `live` count), and the generator's `finally` runs
exactly when its body started (a generator that never started has nothing to close).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter

import pytest

from flash import Input, Output, State, callback, event_callback, stream_props
from flash.server.shutdown import SHUTDOWN_EVENT
from flash.streaming.wire.endpoint import start_run
from tests.conftest import run
from tests.streaming.downlink_client import Downlink, make_app, run_id, setup, start_body, wait_until

KINDS = ["async", "sync", "callback-async", "callback-sync"]
CLOSED = {"closed": True}


class Lifecycle:
    """An app whose generators count `started`/`finally` per kind and can be held at a gate: an
    asyncio event (async) or a thread event (sync: the pool thread blocks in the step)."""

    def __init__(self, pool: int = 100, **options) -> None:
        self.app = make_app(**{"thread_pool_size": pool, "stream_resume_window": 0.2, **options})
        self.counts: Counter[str] = Counter()
        self.thread_gate = threading.Event()
        self.loop_gate: asyncio.Event | None = None
        self.ids: dict[str, str] = {}
        counts = self.counts

        async def hold_async() -> None:
            if self.loop_gate is None:
                self.loop_gate = asyncio.Event()
            await self.loop_gate.wait()

        @event_callback(Input("go", "n_clicks"), State("rows", "children"))
        async def endless_async(n, _rows):
            counts["async started"] += 1
            try:
                yield stream_props("out", {"children": 0})
                await hold_async()
            finally:
                counts["async finally"] += 1

        @event_callback(Input("go", "n_clicks"), State("rows", "children"))
        def endless_sync(n, _rows):
            counts["sync started"] += 1
            try:
                if n == 2:  # the body before the first yield blocks its pool thread
                    self.thread_gate.wait(30)
                yield stream_props("out", {"children": 0})
                counts["sync holds its thread"] += 1
                self.thread_gate.wait(30)
            finally:
                counts["sync finally"] += 1

        @callback(Output("out", "children"), Input("go", "n_clicks"), State("rows", "children"))
        async def progress_async(n, _rows):  # Dash 4.5's streaming callback: yields return values
            counts["callback-async started"] += 1
            try:
                yield "first"
                await hold_async()
            finally:
                counts["callback-async finally"] += 1

        @callback(Output("out", "children"), Input("go", "n_clicks"), State("rows", "children"))
        def progress_sync(n, _rows):
            counts["callback-sync started"] += 1
            try:
                yield "first"
                self.thread_gate.wait(30)
            finally:
                counts["callback-sync finally"] += 1

        self.ids = {
            "async": endless_async.stream_id,
            "sync": endless_sync.stream_id,
            "callback-async": progress_async.stream_id,
            "callback-sync": progress_sync.stream_id,
        }

    def release(self) -> None:
        self.thread_gate.set()
        if self.loop_gate is not None:
            self.loop_gate.set()

    async def start_unstepped(self, page: Downlink, kind: str, n: int = 1):
        """Start a run as the start route does and return it before its pump task took a step."""
        body = json.dumps(start_body(page.token, n=n)).encode()
        async with self.app.server.test_request_context(f"/_flash/stream/{self.ids[kind]}", method="POST"):
            started = await start_run(self.app, self.ids[kind], body)
        found = self.app.stream_runs.live_run(run_id(started.handle))
        assert found is not None and not getattr(found, "begun", False), "no loop turn since the start"
        return started.handle, found

    def no_trace(self) -> bool:
        runs = self.app.stream_runs
        return len(runs) == 0 and all(downlink.live == 0 for downlink in runs.downlinks.values())


def ended_closed(messages) -> bool:
    return bool(messages) and messages[-1].event == "done" and messages[-1].data == CLOSED


@pytest.mark.parametrize("kind", KINDS)
def test_a_run_closed_before_its_task_took_a_step_ends_and_its_body_never_runs(kind):
    life = Lifecycle()

    async def go():
        client = life.app.server.test_client()
        await setup(client)
        async with Downlink(client) as page:
            handle, found = await life.start_unstepped(page, kind)
            found.close()  # same loop turn: a cancel now would skip the pump's whole body
            messages = await page.finished(handle)
            assert await wait_until(life.no_trace), life.app.stream_runs.runs()
            await asyncio.sleep(0.1)  # nothing starts later either
            return messages

    try:
        messages = run(go())
    finally:
        life.release()
    assert ended_closed(messages), messages
    assert [m.event for m in messages] == ["done"]
    assert life.counts[f"{kind} started"] == 0 and life.counts[f"{kind} finally"] == 0


@pytest.mark.parametrize("kind", ["sync", "callback-sync"])
def test_a_sync_run_closed_while_it_waits_for_a_pool_thread_ends_without_starting(kind):
    life = Lifecycle(pool=1)

    async def go():
        client = life.app.server.test_client()
        await setup(client)
        async with Downlink(client) as page:
            blocker = await page.start(life.ids["sync"], n=2)  # holds the only thread before its first yield
            await wait_until(lambda: life.counts["sync started"] == 1)
            waiting = await page.start(life.ids[kind])  # its first step waits for that thread
            await asyncio.sleep(0.1)
            assert life.counts[f"{kind} started"] == (1 if kind == "sync" else 0)
            status, answer = await page.close(waiting)
            messages = await page.finished(waiting)
            assert await wait_until(lambda: len(life.app.stream_runs) == 1)  # the blocker only
            live = [found.run_id for found in life.app.stream_runs.runs()]
            life.release()
            await page.close(blocker)
            await page.finished(blocker)
            assert await wait_until(lambda: life.no_trace() and life.counts["sync finally"] == 1)
            return status, answer, messages, live, run_id(blocker)

    try:
        status, answer, messages, live, blocker_id = run(go())
    finally:
        life.release()
    assert status == 200 and answer["closed"] == 1
    assert ended_closed(messages) and [m.event for m in messages] == ["done"], messages
    assert live == [blocker_id]
    # The closed run's generator never started (no pool thread ran it), so nothing to finish.
    assert life.counts[f"{kind} started"] == (1 if kind == "sync" else 0)
    assert life.counts[f"{kind} finally"] == (1 if kind == "sync" else 0)


@pytest.mark.parametrize("kind", KINDS)
def test_a_run_closed_mid_step_ends_at_once_and_its_finally_runs_once(kind):
    life = Lifecycle()

    async def go():
        client = life.app.server.test_client()
        await setup(client)
        async with Downlink(client) as page:
            handle = await page.start(life.ids[kind])
            await page.until(lambda ms: len(ms) >= 1, handle)  # it yielded once, now it is held
            await asyncio.sleep(0.05)
            await page.close(handle)
            messages = await page.finished(handle)
            assert await wait_until(life.no_trace), life.app.stream_runs.runs()
            life.release()  # a sync step still under way returns: its thread closes the generator
            assert await wait_until(lambda: life.counts[f"{kind} finally"] == 1)
            await asyncio.sleep(0.1)
            return messages

    try:
        messages = run(go())
    finally:
        life.release()
    assert ended_closed(messages), messages
    assert [m.event for m in messages] == ["props", "done"]
    assert life.counts[f"{kind} started"] == 1 and life.counts[f"{kind} finally"] == 1


def test_a_sync_run_closed_between_steps_is_closed_in_a_pool_thread():
    life = Lifecycle()
    threads = []

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    def ticks(n, _rows):
        try:
            i = 0
            while True:
                i += 1
                yield stream_props("out", {"children": i})
        finally:
            threads.append(threading.current_thread() is threading.main_thread())

    async def go():
        client = life.app.server.test_client()
        await setup(client)
        async with Downlink(client) as page:
            handle = await page.start(ticks.stream_id)
            await page.until(lambda ms: len(ms) >= 3, handle)
            await page.close(handle)
            messages = await page.finished(handle)
            assert await wait_until(lambda: life.no_trace() and threads)
            return messages

    messages = run(go())
    assert ended_closed(messages)
    assert threads == [False], "the generator's finally ran once, in a pool thread"


def test_shutdown_ends_runs_at_every_moment_and_runs_each_started_finally_once():
    life = Lifecycle(pool=2)
    life.app._shutdown.grace = 2

    async def go():
        client = life.app.server.test_client()
        await setup(client)
        async with Downlink(client) as page:
            mid_async = await page.start(life.ids["async"])
            mid_callback = await page.start(life.ids["callback-async"])
            mid_sync = await page.start(life.ids["sync"])  # blocks its thread after its first yield
            await page.start(life.ids["sync"], n=2)  # blocks before its first yield
            await page.until(lambda ms: {m.run for m in ms} >= {run_id(h) for h in (mid_async, mid_callback, mid_sync)})
            # both threads taken: `mid_sync`'s second step is under way (between its first and
            # second steps its thread was free for a moment)
            await wait_until(lambda: life.counts["sync started"] == 2 and life.counts["sync holds its thread"] == 1)
            await page.start(life.ids["callback-sync"])  # no thread left for it
            await life.start_unstepped(page, "async", n=3)
            life.app._shutdown.begin("test")  # same turn
            await page._read_until(lambda events: any(e["event"] == "shutdown" for e in events))
            await life.app._shutdown._stopped()  # the lifespan shutdown
            after_stop = (len(life.app.stream_runs), Counter(life.counts))
            life.release()  # the sync steps under way return: their threads close them
            assert await wait_until(lambda: life.counts["sync finally"] == 2)
            await asyncio.sleep(0.1)
            return after_stop, page.raw

    try:
        (live, counts), raw = run(go())
    finally:
        life.release()
    assert live == 0, "no run outlives the lifespan shutdown"
    assert SHUTDOWN_EVENT in raw
    assert counts["async started"] == 1, "the unstepped run's body never ran"
    assert counts["async finally"] == 1 and counts["callback-async finally"] == 1
    assert counts["callback-sync started"] == 0 and life.counts["callback-sync finally"] == 0
    assert life.counts["sync started"] == 2 and life.counts["sync finally"] == 2
