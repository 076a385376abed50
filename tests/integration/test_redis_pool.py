"""RedisSharedStorage's connection pools are blocking and bounded, on every redis-py allowed.

redis-py 8's default asyncio pool holds 100 connections and raises `MaxConnectionsError` on
the next concurrent command (1,000 streams on two workers failed so); these tests hold the pools
to a tiny bound and send far more concurrent commands than it, on a real redis-server: every
command waits for a connection and succeeds. The suite runs them on the oldest and the newest
redis-py (scripts/test). A cancellation during a command is never lost (redis_client.py).
"""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
import redis

from flash import RedisSharedStorage
from tests.conftest import run


def test_the_async_and_sync_pools_are_blocking_and_bounded(redis_url):
    storage = RedisSharedStorage(url=redis_url, max_connections=7, pool_timeout=3, socket_timeout=4)

    async def go():
        pool = storage.loop_state().pool
        await storage.aclose()
        return pool

    pool = run(go())
    assert isinstance(pool, redis.asyncio.BlockingConnectionPool)
    assert (pool.max_connections, pool.timeout) == (7, 3)
    assert pool.connection_kwargs["socket_timeout"] == 4
    sync_pool = storage._client()[0].connection_pool
    assert isinstance(sync_pool, redis.BlockingConnectionPool)
    assert (sync_pool.max_connections, sync_pool.timeout) == (7, 3)
    storage.close()


def test_the_urls_own_pool_options_win(redis_url):
    storage = RedisSharedStorage(url=f"{redis_url}?max_connections=5&socket_timeout=3")

    async def go():
        pool = storage.loop_state().pool
        await storage.aclose()
        return pool

    pool = run(go())
    assert pool.max_connections == 5 and pool.connection_kwargs["socket_timeout"] == 3


def test_far_more_concurrent_async_commands_than_connections_wait_instead_of_failing(redis_url):
    storage = RedisSharedStorage(url=redis_url, max_connections=3, key_prefix=f"p{uuid.uuid4().hex[:8]}")
    missing = storage.key("never-written")

    async def go():
        client = storage.loop_state().client
        # Each holds its connection ~150 ms (a blocking read of a stream nobody writes).
        slow = [client.xread({missing: "0-0"}, block=150) for _ in range(12)]
        fast = [storage.aset(f"k{i}", i) for i in range(200)]
        results = await asyncio.gather(*slow, *fast)
        values = [await storage.aget(f"k{i}") for i in range(200)]
        await storage.aclose()
        return results, values

    results, values = run(go())
    assert all(not result for result in results[:12])
    assert values == list(range(200))


def test_far_more_threads_than_sync_connections_wait_instead_of_failing(redis_url):
    storage = RedisSharedStorage(url=redis_url, max_connections=2, key_prefix=f"p{uuid.uuid4().hex[:8]}")
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            storage._client()[0].xread({storage.key("nothing"): "0-0"}, block=100)
            storage.set(f"t{i}", i)
        except BaseException as exc:
            errors.append(exc)

    storage._client()  # one client for all threads
    threads = [threading.Thread(target=work, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert [storage.get(f"t{i}") for i in range(10)] == list(range(10))
    storage.close()


def test_a_command_waits_at_most_pool_timeout_for_a_connection(redis_url):
    storage = RedisSharedStorage(url=redis_url, max_connections=2, pool_timeout=0.3, socket_timeout=5)

    async def go():
        client = storage.loop_state().client
        hogs = [asyncio.ensure_future(client.xread({storage.key("nothing"): "0-0"}, block=2000)) for _ in range(2)]
        await asyncio.sleep(0.1)
        try:
            with pytest.raises(redis.ConnectionError):
                await client.get("x")
        finally:
            await asyncio.gather(*hogs)
            await storage.aclose()

    run(go())


def test_a_task_cancelled_while_it_talks_to_redis_is_cancelled(redis_url):
    """Python 3.11's wait_for (which redis-py 8 uses) can swallow a cancel: it must not get lost."""
    storage = RedisSharedStorage(url=redis_url, key_prefix=f"p{uuid.uuid4().hex[:8]}")

    async def go():
        client = storage.loop_state().client
        lost, stop = 0, []
        for i in range(150):

            async def busy():
                while not stop:  # a task whose cancel was lost still ends, once the test counted it
                    await client.set(storage.key("busy"), 1)
                    async with client.pipeline(transaction=False) as pipe:
                        pipe.get(storage.key("busy"))
                        await pipe.execute()

            task = asyncio.ensure_future(busy())
            await asyncio.sleep(0.0005 * (i % 9))
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=2)
            if not done:
                lost += 1
                stop.append(True)
                await asyncio.wait([task], timeout=2)
                break
        await storage.aclose()
        return lost

    assert run(go()) == 0, "a cancellation was swallowed: the task kept running"


def test_closing_waits_for_commands_sent_under_in_use_and_leaves_no_connection_open(redis_url):
    """A channel's hub releases its producer lease as it stops, which may be while the app closes
    its storage: a command sent after the pool closed would open a connection nobody closes."""
    name = f"close{uuid.uuid4().hex[:8]}"
    storage = RedisSharedStorage(url=f"{redis_url}?client_name={name}", key_prefix=name)
    missing = storage.key("never-written")

    async def go():
        state = storage.loop_state()

        async def release_as_it_stops():
            with state.in_use():
                await asyncio.sleep(0.05)  # the storage starts closing meanwhile
                await state.client.xread({missing: "0-0"}, block=50)

        task = asyncio.ensure_future(release_as_it_stops())
        await asyncio.sleep(0.01)
        await storage.aclose()
        return task.done(), state.closed

    assert run(go()) == (True, True), "closing returned before the command sent under in_use"
    admin = redis.Redis.from_url(redis_url)
    try:
        named = [c for c in admin.client_list() if c.get("name") == name]
    finally:
        admin.close()
    assert named == [], "a connection of the closed storage is still open"
