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

from ..compat.redis import send_packed


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

        def hold(self) -> HeldConnection:
            """A connection outside the pool for one task's round trips (`HeldConnection`)."""
            pool = self.connection_pool
            held: set[HeldConnection] = self.__dict__.setdefault("_flash_held", set())
            return HeldConnection(redis, pool.connection_class(**pool.connection_kwargs), held)

        async def aclose(self, *args: Any, **kwargs: Any) -> None:
            for held in list(self.__dict__.get("_flash_held", ())):
                await held.close()
            await super().aclose(*args, **kwargs)

    return Client


class HeldConnection:
    """A connection of its own, outside the pool, for one task's frequent round trips (the
    stream bus's write loop, a loop's subscription reader): one command at a time.

    Why: redis-py's path for each command costs the worker more CPU than the command: a pool
    checkout (a condition, on 8.x also a lock and its metrics, and a probe read of the socket
    under a zero timeout, which suspends the task once more), the send wrapped in `wait_for`
    (a task of its own on Python 3.11), the retry wrapper and the reply callback. The bus makes
    hundreds of these round trips a second per worker; here each is a write to the socket and a
    read of the raw reply (hiredis' or redis-py's parser output: no reply callback). A connection
    Redis closed (a restart) is replaced and the command sent once more, as the pool's retry
    policy does: only commands that may be repeated go through here. One command at a time (a
    lock: a second caller waits its turn rather than interleave). Closed by `close()` or with its
    client (`aclose`)."""

    def __init__(self, redis: Any, connection: Any, registry: "set[HeldConnection]") -> None:
        self._redis = redis
        self._conn = connection
        self._registry = registry  # the client's: `aclose` closes what is left in it
        self._lock = asyncio.Lock()
        registry.add(self)

    async def call(self, *args: Any) -> Any:
        async with self._lock:
            return await _cancellable(self._call(args))

    async def _call(self, args: tuple[Any, ...]) -> Any:
        redis, conn = self._redis, self._conn
        for attempt in (1, 2):
            try:
                if not conn.is_connected:
                    await conn.connect()
                await send_packed(conn, conn.pack_command(*args))  # no `wait_for` task per send
                return await conn.read_response()
            except redis.ResponseError:  # the reply was read whole: the connection is fine
                raise
            except (redis.ConnectionError, OSError) as exc:
                await conn.disconnect(nowait=True)
                if attempt == 2:
                    if isinstance(exc, redis.ConnectionError):
                        raise
                    raise redis.ConnectionError(f"Error talking to Redis: {exc}") from exc
            except BaseException:  # cut mid-command (cancelled, timed out): a reply may be pending
                await conn.disconnect(nowait=True)
                raise
        raise AssertionError("unreachable")

    async def evalsha(self, script: Any, keys: list[Any], args: list[Any]) -> Any:
        """Run a registered redis-py `Script` (loading it when Redis lost it, as `Script` does)."""
        try:
            return await self.call("EVALSHA", script.sha, len(keys), *keys, *args)
        except self._redis.exceptions.NoScriptError:
            await self.call("SCRIPT", "LOAD", script.script)
            return await self.call("EVALSHA", script.sha, len(keys), *keys, *args)

    async def close(self) -> None:
        self._registry.discard(self)
        try:
            await self._conn.disconnect()
        except Exception:  # already broken: nothing left to close
            pass


class OwnConnection:
    """One user's `HeldConnection` on whichever loop's client it is asked for (a bus may run on
    one loop, stop, and start on another): made on first use, closed by `close()` (or with the
    client it came from)."""

    def __init__(self) -> None:
        self._held: tuple[Any, HeldConnection] | None = None

    def on(self, client: Any) -> HeldConnection:
        held = self._held
        if held is None or held[0] is not client:
            held = self._held = (client, client.hold())
        return held[1]

    @property
    def open(self) -> bool:
        return self._held is not None

    async def close(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            await held[1].close()
