"""Run sync user code in a thread pool so it never blocks the event loop.

The pool is sized for *blocking* callbacks (database queries, HTTP calls, `time.sleep`), not for
CPU: a waiting thread costs ~13 KiB of RSS and threads start only when needed, while a pool of
Python's default size (cpu + 4: 6 on 2 cores) made a quick callback wait 33 s behind 200
callbacks sleeping 1 s (100 threads: 1.9 s; quick-call throughput the same). A sync call that
waits longer than `thread_queue_warning` seconds for a free thread logs one warning line (at
most one a minute), so an undersized pool shows in the log instead of as slow pages.

The pool itself and the hop back to the loop are executor.py's: `run_in_thread` hands a call to
it as one job that reports straight to the awaiting loop (no future chain), which is what keeps a
sync callback's thread round trip cheap.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import os
import threading
import time
import weakref
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, Callable

from .executor import FlashExecutor, start_call

logger = logging.getLogger("flash.threads")
DEFAULT_THREAD_POOL_SIZE = 100
DEFAULT_THREAD_QUEUE_WARNING = 1.0
WARNING_INTERVAL = 60.0  # seconds between two queue warnings


def thread_pool_size(value: int | None) -> int:
    """The pool size: the argument, else env ``FLASH_THREAD_POOL_SIZE``, else the default."""
    if value is None:
        env = os.environ.get("FLASH_THREAD_POOL_SIZE")
        value = int(env) if env else DEFAULT_THREAD_POOL_SIZE
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("thread_pool_size must be a positive integer.")
    return value


def queue_warning(value: float | None) -> float | None:
    if value is None:
        return None  # no warning
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError("thread_queue_warning must be a positive number of seconds (or None: no warning).")
    return float(value)


class QueueWatch:
    """Times each call's wait for a thread (a monotonic stamp at submit, one at start) and warns,
    rate-limited, when one waited longer than `threshold` seconds."""

    __slots__ = ("threshold", "size", "interval", "_next", "_slow", "_lock")

    def __init__(self, threshold: float, size: int | None, interval: float = WARNING_INTERVAL) -> None:
        self.threshold, self.size, self.interval = threshold, size, interval
        self._next = 0.0  # monotonic time before which no warning is logged
        self._slow = 0  # slow starts not reported yet
        self._lock = threading.Lock()

    def run(
        self,
        submitted: float,
        context: contextvars.Context,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        self.started(submitted)
        return context.run(func, *args, **kwargs)

    def started(self, submitted: float) -> None:
        """In the pool thread, as a call queued at `submitted` (monotonic) starts."""
        waited = time.monotonic() - submitted
        for observe in WAIT_OBSERVERS:  # flash.metrics' histogram, when metrics are on
            observe(waited)
        if waited > self.threshold:
            self.slow(waited)

    def slow(self, waited: float) -> None:
        with self._lock:
            self._slow += 1
            now = time.monotonic()
            if now < self._next:
                return
            self._next = now + self.interval
            count, self._slow = self._slow, 0
        logger.warning(
            "A sync callback waited %.1f s for a free thread (%d slow start(s) since the last warning; "
            "thread_pool_size=%s, thread_queue_warning=%g s): raise thread_pool_size, or make blocking "
            "callbacks async.",
            waited,
            count,
            self.size,
            self.threshold,
        )


_WATCHES: "weakref.WeakKeyDictionary[Executor, QueueWatch]" = weakref.WeakKeyDictionary()
# Called (in the pool thread) with each job's wait, watched queue or not. Process-wide, added to
# once by flash.metrics and never emptied: the pool and its wait are the process's.
WAIT_OBSERVERS: list[Callable[[float], None]] = []
_TIMER = QueueWatch(float("inf"), None)  # times a pool without a watch, for WAIT_OBSERVERS only


def watch_queue(executor: Executor, threshold: float | None, size: int | None = None) -> None:
    """Warn when calls `run_in_thread` submits to `executor` wait longer than `threshold` s."""
    if threshold is None:
        _WATCHES.pop(executor, None)
    else:
        _WATCHES[executor] = QueueWatch(threshold, size)


def _watch_of(executor: Executor | None) -> QueueWatch | None:
    watch = _WATCHES.get(executor) if executor is not None else None
    if watch is None and WAIT_OBSERVERS:
        watch = _TIMER
    return watch


def _call_in_context(
    executor: Executor | None, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Callable[[], Any]:
    """`func(*args, **kwargs)` as a pool job: run with the caller's contextvars, its wait timed."""
    context = contextvars.copy_context()
    watch = _watch_of(executor)
    if watch is None:
        return functools.partial(context.run, func, *args, **kwargs)
    return functools.partial(watch.run, time.monotonic(), context, func, args, kwargs)


async def run_in_thread(executor: Executor | None, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `func` on `executor` with the caller's contextvars (request, ctx, app) copied in.

    Cancelling the awaiting task withdraws a call no thread has taken yet (it never runs); one
    under way finishes in its thread and its outcome is dropped. Executors other than threads of
    this process (None: the loop's default) take the general `run_in_executor` path."""
    loop = asyncio.get_running_loop()
    if isinstance(executor, (FlashExecutor, ThreadPoolExecutor)):
        watch = _watch_of(executor)
        return await start_call(
            executor, loop, func, args, kwargs, contextvars.copy_context(), watch, time.monotonic() if watch is not None else 0.0
        )
    return await loop.run_in_executor(executor, _call_in_context(executor, func, args, kwargs))


def submit_to_thread(executor: Executor, func: Callable[..., Any], *args: Any) -> "Future[Any]":
    """Like `run_in_thread`, but the pool's own future, not a coroutine: its owner can tell a
    call still queued (`cancel()` succeeds, `func` never runs) from one a thread has begun."""
    return executor.submit(_call_in_context(executor, func, args, {}))


async def call_maybe_async(executor: Executor | None, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Await an `async def` on the loop; run anything else in the pool; await what it returns if awaitable."""
    if inspect.iscoroutinefunction(func):
        return await func(*args, **kwargs)
    result = await run_in_thread(executor, func, *args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result
