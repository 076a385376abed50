"""The thread pool that sync callbacks, layouts and generators run in, and the cheap way back.

Why not `loop.run_in_executor` on a `ThreadPoolExecutor`: each call there makes a
`concurrent.futures.Future` (a Condition, a lock), chains it to an asyncio future
(`asyncio.wrap_future`: two done-callbacks, a state copy) and writes to the loop's self-pipe once
per finished call. Measured in W1 that hop cost more than the whole async callback request. Here a
call awaited from the loop is one plain job: the worker runs it in the caller's context and
appends its outcome to the loop's `LoopWaker`, and only the first outcome of a batch wakes the
loop (`call_soon_threadsafe`); the loop then settles every finished call of the batch at once.

`FlashExecutor` is a complete `concurrent.futures.Executor` too: `submit()` returns the usual
future (a queued call can be cancelled and then never runs), for the stream pump, Dash's
WebSocket callbacks and `loop.run_in_executor`. It is the only owner of its threads: they start
when no thread is free (up to `max_workers`), take jobs in submission order, and stop on
`shutdown()` after finishing what was queued, when the executor is garbage collected, or at
interpreter exit (which waits for them, as `ThreadPoolExecutor` does). In a forked child the
pool starts over empty: its threads did not come along.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextvars
import itertools
import logging
import os
import queue
import threading
import weakref
from concurrent.futures import Executor, Future
from typing import Any, Callable, Protocol

logger = logging.getLogger("flash.threads")


class Job(Protocol):
    """A pool thread's unit of work: `run()` calls the function and keeps its outcome (never
    raises), then `finish()` hands the outcome over (to a loop, or a concurrent future)."""

    def run(self) -> None: ...

    def finish(self) -> None: ...


class StartWatch(Protocol):
    """Told, in the pool thread, when a call that was queued at `submitted` (monotonic) starts."""

    def started(self, submitted: float) -> None: ...


class LoopWaker:
    """One per event loop: pool threads hand finished calls' outcomes here; the first outcome of
    a batch schedules `_drain` on the loop, which settles every outcome waiting by then.
    `wakes` counts the drains scheduled (what the tests count, instead of timing)."""

    __slots__ = ("loop", "wakes", "_lock", "_done", "_waking", "__weakref__")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.wakes = 0
        self._lock = threading.Lock()
        self._done: list[tuple[asyncio.Future[Any], bool, Any]] = []
        self._waking = False  # a drain is scheduled and has not taken the batch yet

    def deliver(self, future: asyncio.Future[Any], ok: bool, value: Any) -> None:
        """From any thread: settle `future` with result `value`, or if not ok, exception `value`
        (None: cancel it)."""
        with self._lock:
            self._done.append((future, ok, value))
            if self._waking:
                return
            self._waking = True
            self.wakes += 1
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed: nobody awaits these futures any more
            with self._lock:
                self._done.clear()
                self._waking = False

    @property
    def pending(self) -> int:
        """Outcomes delivered and not yet settled on the loop."""
        return len(self._done)

    def _drain(self) -> None:
        with self._lock:
            batch, self._done, self._waking = self._done, [], False
        for future, ok, value in batch:
            if future.done():  # its awaiting task was cancelled: the outcome is dropped
                continue
            if ok:
                future.set_result(value)
            elif value is None:  # withdrawn before it ran (the pool was shut down)
                future.cancel()
            else:
                future.set_exception(value)


_WAKERS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopWaker]" = weakref.WeakKeyDictionary()


def loop_waker(loop: asyncio.AbstractEventLoop) -> LoopWaker:
    """The loop's waker, made on first use (called on the loop's thread); it goes with the loop."""
    waker = _WAKERS.get(loop)
    if waker is None:
        waker = _WAKERS[loop] = LoopWaker(loop)
    return waker


class LoopCall:
    """`func(*args, **kwargs)` in `context`, for a coroutine on `waker.loop` awaiting `future`.
    A call whose awaiting task was cancelled before a thread took it never runs."""

    __slots__ = ("future", "waker", "func", "args", "kwargs", "context", "watch", "submitted", "ok", "value")

    def __init__(
        self,
        future: asyncio.Future[Any],
        waker: LoopWaker,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        context: contextvars.Context,
        watch: StartWatch | None,
        submitted: float,
    ) -> None:
        self.future, self.waker, self.func, self.args, self.kwargs = future, waker, func, args, kwargs
        self.context, self.watch, self.submitted = context, watch, submitted
        self.ok: bool | None = None  # None: not run (its awaiting task was cancelled first)
        self.value: Any = None

    def run(self) -> None:
        if self.future.cancelled():
            return
        try:
            if self.watch is not None:
                self.watch.started(self.submitted)
            self.value, self.ok = self.context.run(self.func, *self.args, **self.kwargs), True
        except BaseException as exc:  # the awaiting coroutine gets it, traceback and all
            self.value, self.ok = _loop_exception(exc), False
            del self  # the traceback holds this frame: no cycle through it back to the exception

    def finish(self) -> None:
        if self.ok is not None:
            self.waker.deliver(self.future, self.ok, self.value)

    def __call__(self) -> None:  # on another executor's thread
        self.run()
        self.finish()


def _loop_exception(exc: BaseException) -> BaseException:
    """An asyncio future cannot hold StopIteration (Python raises TypeError on the loop and the
    caller would wait forever); a pool's CancelledError means the awaiting task's cancel."""
    if isinstance(exc, StopIteration):
        error = RuntimeError(f"a sync call raised StopIteration: {exc!r}")
        error.__cause__ = exc
        return error
    if isinstance(exc, concurrent.futures.CancelledError):
        return asyncio.CancelledError(*exc.args)
    return exc


def start_call(
    executor: Executor,
    loop: asyncio.AbstractEventLoop,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    context: contextvars.Context,
    watch: StartWatch | None = None,
    submitted: float = 0.0,
) -> asyncio.Future[Any]:
    """Queue `func` on `executor` (a FlashExecutor, or any executor whose `submit` runs callables
    in threads of this process) and return the loop future its outcome settles."""
    future = loop.create_future()
    call = LoopCall(future, loop_waker(loop), func, args, kwargs, context, watch, submitted)
    if isinstance(executor, FlashExecutor):
        executor.post(call)
    else:
        executor.submit(call)  # its own future settles with None; the call reports to `future`
    return future


class _Work:
    """A `submit()`ed call: the standard future's protocol (a cancelled one never runs)."""

    __slots__ = ("future", "fn", "args", "kwargs", "ok", "value")

    def __init__(self, future: "Future[Any]", fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.future, self.fn, self.args, self.kwargs = future, fn, args, kwargs
        self.ok: bool | None = None  # None: cancelled while queued, never ran
        self.value: Any = None

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            self.value, self.ok = self.fn(*self.args, **self.kwargs), True
        except BaseException as exc:
            self.value, self.ok = exc, False
            del self  # as in LoopCall.run

    def finish(self) -> None:
        if self.ok:
            self.future.set_result(self.value)
        elif self.ok is False:
            self.future.set_exception(self.value)


class _Threads:
    """The pool's state, shared with its threads (which never hold the executor itself, so an
    executor nobody uses any more is collected, and its threads then stop)."""

    def __init__(self, max_workers: int, prefix: str) -> None:
        self.max_workers, self.prefix = max_workers, prefix
        self.reset()
        self.shut = False

    def reset(self) -> None:
        self.lock = threading.Lock()
        self.queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.idle = 0  # threads free for a job, less the jobs already promised to them
        self.names = itertools.count()

    def post(self, job: Job) -> None:
        """Queue `job`; start a thread when none is free and the pool is below its size."""
        with self.lock:
            if self.shut:
                raise RuntimeError("cannot schedule new calls after the thread pool was shut down")
            self.queue.put(job)
            if self.idle:
                self.idle -= 1
                return
            if len(self.threads) >= self.max_workers:
                return  # queued until a thread is free
            thread = threading.Thread(target=self.work, args=(self.queue,), daemon=True, name=f"{self.prefix}_{next(self.names)}")
            self.threads.append(thread)
            try:
                thread.start()
            except BaseException:  # e.g. the OS refuses another thread: the job waits for a busy one
                self.threads.remove(thread)
                raise

    def work(self, jobs: "queue.SimpleQueue[Job | None]") -> None:
        while True:
            job = jobs.get()
            if job is None:  # stop (one sentinel per thread, queued after every job)
                return
            try:
                job.run()
            except BaseException:  # jobs keep their own outcome; a bug here must not cost a thread
                logger.exception("A thread pool job failed")
            with self.lock:
                self.idle += 1
            # Settling the caller's future comes last: the thread it wakes should find the GIL
            # free (this thread is about to wait on the queue), not wait for it and wake twice.
            try:
                job.finish()
            except BaseException:
                logger.exception("A thread pool job failed to report")
            del job  # the finished call's arguments and result are not kept alive while idle

    def stop(self, cancel_queued: bool = False) -> list[threading.Thread]:
        with self.lock:
            first, self.shut = not self.shut, True
            threads = list(self.threads)
        if cancel_queued:
            self._cancel_queued()
        if first:
            for _ in threads:
                self.queue.put(None)
        return threads

    def _cancel_queued(self) -> None:
        stops = 0
        while True:
            try:
                job = self.queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                stops += 1
            elif isinstance(job, _Work):
                job.future.cancel()
            elif isinstance(job, LoopCall):
                job.waker.deliver(job.future, False, None)
        for _ in range(stops):  # a stop queued by an earlier shutdown stays queued
            self.queue.put(None)


_LIVE: "weakref.WeakSet[_Threads]" = weakref.WeakSet()


class FlashExecutor(Executor):
    """A thread pool for blocking sync calls; see the module docstring."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "flash-callback") -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError("max_workers must be a positive integer.")
        self._state = state = _Threads(max_workers, thread_name_prefix)
        _LIVE.add(state)
        weakref.finalize(self, state.stop)

    @property
    def max_workers(self) -> int:
        return self._state.max_workers

    @property
    def thread_count(self) -> int:
        """Threads started so far (they stay until shutdown)."""
        return len(self._state.threads)

    def post(self, job: Job) -> None:
        """Run `job` in a pool thread: the cheap path for a job that reports its own outcome
        (a `LoopCall`); it must not raise. RuntimeError after shutdown."""
        self._state.post(job)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> "Future[Any]":
        future: Future[Any] = Future()
        self._state.post(_Work(future, fn, args, kwargs))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking calls; the threads finish what is queued (unless `cancel_futures`:
        queued calls are cancelled and never run) and end; `wait`: return once they have."""
        threads = self._state.stop(cancel_futures)
        if wait:
            _join(threads)


def _join(threads: list[threading.Thread]) -> None:
    me = threading.current_thread()
    for thread in threads:
        if thread is not me and thread.is_alive():
            thread.join()


@atexit.register
def _at_exit() -> None:
    """Interpreter exit: every pool finishes its queued calls, then its threads end (as Python's
    ThreadPoolExecutor does; the threads are daemons only so that this, not threading's join of
    non-daemon threads, is where the waiting happens)."""
    for state in list(_LIVE):
        _join(state.stop())


def _after_fork_in_child() -> None:
    """The child of a fork has none of the pools' threads and maybe a lock held mid-call by one:
    each pool starts over empty (what was queued belongs to the parent) and loops' wakers anew."""
    for state in list(_LIVE):
        state.reset()
    _WAKERS.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
