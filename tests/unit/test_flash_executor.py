"""Flash's thread pool (flash/server/executor.py) and the hop `run_in_thread` makes through it:
results, exceptions and contextvars cross intact, a cancelled caller neither loses a thread nor
runs a call it withdrew, the loop is woken once per batch of finished calls (counted, not timed),
and the pool's threads end on shutdown, when it is collected, and start over after a fork."""

import asyncio
import contextvars
import gc
import logging
import os
import threading
import time
import traceback
from concurrent.futures import CancelledError, ThreadPoolExecutor

import pytest

from flash.server.executor import FlashExecutor, loop_waker
from flash.server.threads import WAIT_OBSERVERS, run_in_thread, submit_to_thread, watch_queue
from tests.unit.forking import child_exit_code

REQUEST = contextvars.ContextVar("REQUEST")
GUARD = 10  # seconds: only ever reached when something hangs


def pool_threads(prefix):
    return [t for t in threading.enumerate() if t.name.startswith(prefix + "_")]


def wait_until(condition, what):
    """Block (this thread, the loop's in a test) until `condition()`; fail after GUARD seconds."""
    deadline = time.monotonic() + GUARD
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


@pytest.fixture
def pool():
    executor = FlashExecutor(4, "test-pool")
    yield executor
    executor.shutdown(wait=True)


def test_results_come_back_to_their_callers_in_the_callers_context(pool):
    def work(n):
        seen = REQUEST.get()
        REQUEST.set("changed in the thread")  # a copy: the caller's value stays
        return n, seen, threading.current_thread().name

    async def go():
        REQUEST.set("request 7")
        answers = await asyncio.gather(*(run_in_thread(pool, work, n) for n in range(40)))
        return answers, REQUEST.get()

    answers, after = asyncio.run(go())
    assert [a[0] for a in answers] == list(range(40))
    assert {a[1] for a in answers} == {"request 7"}
    assert all(a[2].startswith("test-pool_") for a in answers)  # ran in the pool, not on the loop
    assert after == "request 7"


def test_keyword_arguments_and_exceptions_with_their_traceback(pool):
    def fails(*, why):
        raise LookupError(why)

    async def go():
        assert await run_in_thread(pool, dict, a=1) == {"a": 1}
        with pytest.raises(LookupError, match="no such row") as info:
            await run_in_thread(pool, fails, why="no such row")
        return info.value

    error = asyncio.run(go())
    assert "fails" in [frame.name for frame in traceback.extract_tb(error.__traceback__)]


def test_stop_iteration_becomes_an_error_instead_of_a_hang(pool):
    async def go():
        with pytest.raises(RuntimeError, match="StopIteration") as info:
            await asyncio.wait_for(run_in_thread(pool, next, iter(())), GUARD)
        assert isinstance(info.value.__cause__, StopIteration)
        return await run_in_thread(pool, next, iter(()), "default")  # what pump/llm do instead

    assert asyncio.run(go()) == "default"


def test_a_call_withdrawn_while_queued_never_runs_and_the_thread_serves_on():
    pool = FlashExecutor(1, "test-withdrawn")
    release, ran = threading.Event(), []

    async def go():
        holder = asyncio.ensure_future(run_in_thread(pool, release.wait, GUARD))
        queued = asyncio.ensure_future(run_in_thread(pool, ran.append, "queued"))
        await asyncio.sleep(0)  # both submitted; the only thread is held
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        release.set()
        assert await holder is True
        return await run_in_thread(pool, lambda: "next")

    try:
        assert asyncio.run(go()) == "next"
        assert ran == [] and pool.thread_count == 1
    finally:
        pool.shutdown()


def test_a_caller_cancelled_mid_call_returns_at_once_and_the_call_finishes_in_its_thread():
    pool = FlashExecutor(1, "test-midcall")
    started, release, finished = threading.Event(), threading.Event(), []

    def slow():
        started.set()
        release.wait(GUARD)
        finished.append(threading.current_thread().name)
        return "dropped"

    async def go():
        task = asyncio.ensure_future(run_in_thread(pool, slow))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, GUARD)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task  # while `slow` still blocks its thread
        assert finished == []
        release.set()
        return await run_in_thread(pool, lambda: threading.current_thread().name)

    try:
        name = asyncio.run(go())
        assert finished == [name]  # the same (only) thread finished it, then took the next call
        assert pool.thread_count == 1
    finally:
        pool.shutdown()


def test_many_concurrent_calls_share_a_bounded_pool():
    pool = FlashExecutor(8, "test-many")
    lock, state = threading.Lock(), {"now": 0, "most": 0}

    def work(n):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.0005)
        with lock:
            state["now"] -= 1
        return n * n

    async def go():
        return await asyncio.gather(*(run_in_thread(pool, work, n) for n in range(500)))

    try:
        assert asyncio.run(go()) == [n * n for n in range(500)]
        assert pool.thread_count == 8 and 1 <= state["most"] <= 8
    finally:
        pool.shutdown()


def test_calls_start_in_the_order_they_were_made():
    pool = FlashExecutor(1, "test-order")
    started = []

    async def go():
        awaited = [asyncio.ensure_future(run_in_thread(pool, started.append, n)) for n in range(50)]
        await asyncio.sleep(0)  # the tasks have made their calls
        submitted = [asyncio.wrap_future(pool.submit(started.append, n)) for n in range(50, 60)]
        await asyncio.gather(*awaited, *submitted)

    try:
        asyncio.run(go())
        assert started == list(range(60))
    finally:
        pool.shutdown()


def test_sequential_calls_use_one_thread(pool):
    async def go():
        return {await run_in_thread(pool, lambda: threading.current_thread().name) for _ in range(20)}

    assert len(asyncio.run(go())) == 1 and pool.thread_count == 1


@pytest.mark.parametrize("make", [lambda: FlashExecutor(16, "test-batch"), lambda: ThreadPoolExecutor(16)])
def test_the_loop_wakes_once_for_a_batch_of_finished_calls(make):
    executor = make()
    gate = threading.Barrier(17, timeout=GUARD)

    async def go():
        waker = loop_waker(asyncio.get_running_loop())
        calls = [asyncio.ensure_future(run_in_thread(executor, gate.wait)) for _ in range(16)]
        await asyncio.sleep(0)  # all 16 queued; each thread waits at the barrier
        before = waker.wakes
        gate.wait()  # the loop's thread (deliberately held here) lets them all finish ...
        wait_until(lambda: waker.pending == 16, "16 outcomes delivered")  # ... while it cannot run
        await asyncio.gather(*calls)
        batched = waker.wakes - before
        for _ in range(3):  # one at a time: one wake each
            await run_in_thread(executor, int)
        return batched, waker.wakes - before - batched

    try:
        assert asyncio.run(go()) == (1, 3)
    finally:
        executor.shutdown()


def test_the_plain_thread_pool_path_withdraws_queued_calls_too():
    """`run_in_thread` on a ThreadPoolExecutor (Dash's pool) takes the same hop."""
    executor = ThreadPoolExecutor(1)
    release, ran = threading.Event(), []

    async def go():
        REQUEST.set("ctx")
        holder = asyncio.ensure_future(run_in_thread(executor, release.wait, GUARD))
        queued = asyncio.ensure_future(run_in_thread(executor, ran.append, 1))
        await asyncio.sleep(0)
        queued.cancel()
        release.set()
        await holder
        with pytest.raises(ValueError):
            await run_in_thread(executor, int, "x")
        return await run_in_thread(executor, REQUEST.get)

    try:
        assert asyncio.run(go()) == "ctx" and ran == []
    finally:
        executor.shutdown()


def test_submit_is_a_standard_executor(pool):
    release = threading.Event()
    holders = [pool.submit(release.wait, GUARD) for _ in range(4)]
    queued = pool.submit(lambda: 1 / 0)
    assert queued.cancel() and queued.cancelled()  # queued: withdrawn, never runs
    failing = pool.submit(lambda: 1 / 0)
    release.set()
    assert [h.result(GUARD) for h in holders] == [True] * 4
    assert isinstance(failing.exception(GUARD), ZeroDivisionError)
    assert list(pool.map(abs, [-1, -2])) == [1, 2]

    async def go():
        loop = asyncio.get_running_loop()
        REQUEST.set("pump")
        a = await loop.run_in_executor(pool, abs, -3)
        b = await asyncio.wrap_future(submit_to_thread(pool, REQUEST.get))  # the stream pump's path
        return a, b

    assert asyncio.run(go()) == (3, "pump")


def test_shutdown_finishes_what_was_queued_then_ends_the_threads():
    pool = FlashExecutor(2, "test-shutdown")
    release, done = threading.Event(), []
    for n in range(2):
        pool.submit(release.wait, GUARD)
    queued = [pool.submit(done.append, n) for n in range(5)]
    threading.Timer(0.05, release.set).start()
    pool.shutdown(wait=True)
    assert sorted(done) == list(range(5)) and all(f.done() for f in queued)
    assert pool_threads("test-shutdown") == []
    with pytest.raises(RuntimeError):
        pool.submit(int)

    async def go():
        with pytest.raises(RuntimeError):
            await run_in_thread(pool, int)

    asyncio.run(go())


def test_shutdown_can_cancel_what_is_queued():
    pool = FlashExecutor(1, "test-cancel-queued")
    release, ran = threading.Event(), []

    async def go():
        holder = pool.submit(release.wait, GUARD)
        queued_future = pool.submit(ran.append, "submitted")
        queued_call = asyncio.ensure_future(run_in_thread(pool, ran.append, "awaited"))
        await asyncio.sleep(0)
        pool.shutdown(wait=False, cancel_futures=True)
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(queued_call, GUARD)
        assert holder.result(GUARD) is True
        with pytest.raises(CancelledError):
            queued_future.result(GUARD)

    asyncio.run(go())
    wait_until(lambda: not pool_threads("test-cancel-queued"), "the thread to end")
    assert ran == []


def test_a_pool_nobody_holds_ends_its_threads():
    pool = FlashExecutor(3, "test-collected")
    for future in [pool.submit(time.sleep, 0.01) for _ in range(3)]:
        future.result(GUARD)
    assert len(pool_threads("test-collected")) == 3
    del pool, future
    gc.collect()
    wait_until(lambda: not pool_threads("test-collected"), "the threads of a collected pool to end")


def test_a_call_whose_loop_closed_does_not_cost_the_pool_its_thread():
    pool = FlashExecutor(1, "test-closed-loop")
    started, release = threading.Event(), threading.Event()

    def blocking():
        started.set()
        release.wait(GUARD)

    async def abandon():
        asyncio.ensure_future(run_in_thread(pool, blocking))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, GUARD)

    try:
        asyncio.run(abandon())  # the loop closes while `blocking` still runs
        release.set()  # its outcome now has no loop to go to

        async def again():
            return await run_in_thread(pool, lambda: "still serving")

        assert asyncio.run(again()) == "still serving"
        assert pool.thread_count == 1
    finally:
        pool.shutdown()


def test_queue_wait_is_watched_and_observed(caplog):
    pool = FlashExecutor(1, "test-watch")
    watch_queue(pool, 0.05, 1)
    waits = []
    WAIT_OBSERVERS.append(waits.append)
    release = threading.Event()

    async def go():
        holder = asyncio.ensure_future(run_in_thread(pool, release.wait, GUARD))
        queued = [asyncio.ensure_future(run_in_thread(pool, int)) for _ in range(3)]
        await asyncio.sleep(0)
        time.sleep(0.2)  # the queued calls wait at least this long for the only thread
        release.set()
        await asyncio.gather(holder, *queued)

    try:
        with caplog.at_level(logging.WARNING, logger="flash.threads"):
            asyncio.run(go())
    finally:
        WAIT_OBSERVERS.remove(waits.append)
        pool.shutdown()
    assert len(waits) == 4 and sorted(waits)[-1] >= 0.2
    warnings = [r for r in caplog.records if r.name == "flash.threads" and "waited" in r.getMessage()]
    assert len(warnings) == 1 and "thread_pool_size=1" in warnings[0].getMessage()


def test_bad_sizes_are_refused():
    for size in (0, -1, True, "4", 2.5):
        with pytest.raises(ValueError):
            FlashExecutor(size)  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded, use of fork:DeprecationWarning")
def test_a_forked_child_gets_the_pool_back_empty():
    """The child of a fork has none of the pool's threads (and maybe a lock a thread held):
    the same executor object must still run calls there, not hang."""
    pool = FlashExecutor(2, "test-fork")
    assert asyncio.run(run_in_thread(pool, lambda: "parent")) == "parent"
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the pool answers within the guard
        try:
            answer = asyncio.run(asyncio.wait_for(run_in_thread(pool, lambda: "child"), GUARD))
            os._exit(0 if answer == "child" and pool.thread_count == 1 else 1)
        except BaseException:
            os._exit(2)
    code = child_exit_code(pid, 3 * GUARD, "the forked child")
    pool.shutdown()
    assert code == 0
