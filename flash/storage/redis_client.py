"""The asyncio Redis client Flash uses: redis-py's, made to let cancellations through.

Why: on Python 3.11, `asyncio.wait_for` returns the result instead of raising when a task is
cancelled in the same loop turn its awaited operation completes (CPython gh-86296, fixed in
3.12). redis-py 8 (and 5.0.1-5.0.3) await socket writes and reads through `wait_for`, so a task
cancelled while it talks to Redis may simply carry on: a downlink's follower kept forwarding a
page it had been stopped for (each message twice after the resume), a closed run's generator
kept running. This client notices a cancellation that arrived during a command (the task's
`cancelling()` count grew) and that the command returned from (or failed with another error)
anyway, and raises it. Callers that loop on Redis still check their own stop flag after each
await (`streaming/bus/follow.py`): this catches what it can see, not every way a cancel can be lost.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any


def _cancelled_during(before: int) -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > before


def _cancel_count() -> int:
    task = asyncio.current_task()
    return 0 if task is None else task.cancelling()


async def _cancellable(operation: Any) -> Any:
    """Await `operation`; a cancellation requested meanwhile wins over its result or its error
    (redis-py may also turn one into a `ConnectionError`/`TimeoutError`, which a retrying
    caller would take for an outage and carry on)."""
    before = _cancel_count()
    try:
        result = await operation
    except Exception as exc:
        if _cancelled_during(before):
            raise asyncio.CancelledError() from exc
        raise
    if _cancelled_during(before):
        raise asyncio.CancelledError()
    return result


def async_client(redis: Any, pool: Any) -> Any:
    """A `redis.asyncio.Redis` on `pool` whose commands, scripts and pipelines re-raise a
    cancellation redis-py swallowed."""
    return _client_class(redis)(connection_pool=pool)


@functools.cache
def _client_class(redis: Any) -> Any:

    class Pipeline(redis.asyncio.client.Pipeline):  # type: ignore[misc]
        async def execute(self, *args: Any, **kwargs: Any) -> Any:
            return await _cancellable(super().execute(*args, **kwargs))

        async def reset(self) -> None:  # also what leaving `async with` awaits
            await _cancellable(super().reset())

    class Client(redis.asyncio.Redis):  # type: ignore[misc]
        async def execute_command(self, *args: Any, **options: Any) -> Any:
            return await _cancellable(super().execute_command(*args, **options))

        def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
            return Pipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)

    return Client
