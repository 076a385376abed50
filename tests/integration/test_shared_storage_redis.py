"""`RedisSharedStorage` on a real redis-server (started on a free loopback port by the
`redis_url` fixture): the shared contract, what Redis adds (Streams window, many async
subscriptions on one reader, a store flushed under a subscriber), a second process, env
configuration, and a Flash app whose callbacks use `ctx.shared_storage`."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis

from flash import Flash, Input, Output, RedisSharedStorage, SharedStorageGap, ctx, html
from tests.conftest import callback_body, dep, run
from tests.storage_contract import StorageContract, atake, run_in_other_process


@pytest.fixture
def prefix():
    return f"t{uuid.uuid4().hex[:8]}"


class TestRedisSharedStorage(StorageContract):
    @pytest.fixture
    def storage(self, redis_url, prefix):
        backend = RedisSharedStorage(url=redis_url, key_prefix=prefix)
        yield backend
        backend.close()

    @pytest.fixture
    def small_storage(self, redis_url, prefix):
        backend = RedisSharedStorage(url=redis_url, key_prefix=prefix + "s", buffer_size=5)
        yield backend
        backend.close()

    @pytest.fixture
    def storage_code(self, redis_url, prefix):
        return f"storage = RedisSharedStorage(url={redis_url!r}, key_prefix={prefix!r})"


def test_topics_are_redis_streams_capped_to_the_window(redis_url, prefix):
    storage = RedisSharedStorage(url=redis_url, key_prefix=prefix, buffer_size=10)
    for i in range(25):
        storage.publish("capped", i)
    raw = redis.Redis.from_url(redis_url)
    assert raw.type(f"{prefix}:stream:capped") == b"stream"
    assert raw.xlen(f"{prefix}:stream:capped") == 10
    ids = [entry_id for entry_id, _ in raw.xrange(f"{prefix}:stream:capped")]
    assert ids[0] == b"16-0" and ids[-1] == b"25-0"  # stream ids are the sequence numbers
    storage.set("ttl", 1, ttl=30)
    assert 0 < raw.pttl(f"{prefix}:kv:ttl") <= 30_000
    raw.close()
    storage.close()


def test_many_async_subscriptions_on_two_topics_share_one_reader(redis_url, prefix):
    storage = RedisSharedStorage(url=redis_url, key_prefix=prefix)

    async def go():
        subs = [await storage.asubscribe("even" if i % 2 == 0 else "odd") for i in range(40)]
        readers = [asyncio.ensure_future(atake(sub, 30, timeout=20)) for sub in subs]
        # No wait needed: each subscription's cursor is the head at `asubscribe`, so it gets
        # everything published after, however late its reader starts.
        for i in range(30):
            await storage.apublish("even", i)
            await storage.apublish("odd", -i)
        results = await asyncio.gather(*readers)
        reader_tasks = {id(storage.loop_state().reader)}
        await storage.aclose()
        return results, reader_tasks

    results, readers = run(go())
    assert len(readers) == 1
    for i, got in enumerate(results):
        assert got == [(n + 1, n if i % 2 == 0 else -n) for n in range(30)]


def test_a_slow_async_consumer_holds_a_bounded_queue_and_then_catches_up(redis_url, prefix):
    storage = RedisSharedStorage(url=redis_url, key_prefix=prefix, buffer_size=5000)

    async def go():
        sub = await storage.asubscribe("slow")
        for i in range(2000):  # far more than one subscription queues
            await storage.apublish("slow", i)
        seen, peak = [], 0
        async for seq, message in sub.aiter_with_seq():
            peak = max(peak, len(sub._pending))
            seen.append(message)
            if seq == 2000:
                break
        await storage.aclose()
        return seen, peak

    seen, peak = run(go())
    assert seen == list(range(2000))
    assert peak <= 256


def test_a_flushed_store_under_a_waiting_subscriber_is_a_gap(redis_url, prefix):
    storage = RedisSharedStorage(url=redis_url, key_prefix=prefix)
    for i in range(3):
        storage.publish("flushed", i)

    async def go():
        sub = await storage.asubscribe("flushed")  # at #3
        raw = redis.Redis.from_url(redis_url)
        raw.flushdb()
        raw.close()
        with pytest.raises(SharedStorageGap):
            await atake(sub, 1, timeout=15)
        await storage.aclose()

    run(go())


def test_a_script_with_the_url_publishes_to_a_subscribed_app(redis_url, prefix):
    storage = RedisSharedStorage(url=redis_url, key_prefix=prefix)

    async def go():
        sub = await storage.asubscribe("alerts")
        reader = asyncio.ensure_future(atake(sub, 2, timeout=30))
        await asyncio.to_thread(
            run_in_other_process,
            f"storage = RedisSharedStorage(url={redis_url!r}, key_prefix={prefix!r})",
            "storage.publish('alerts', 'disk full'); storage.publish('alerts', 'ok')",
        )
        got = await reader
        await storage.aclose()
        return got

    assert run(go()) == [(1, "disk full"), (2, "ok")]


def test_flash_app_on_redis_from_the_env_with_ctx_shared_storage(redis_url, monkeypatch):
    monkeypatch.delenv("FLASH_SHARED_STORAGE", raising=False)
    monkeypatch.setenv("DASH_SHARED_STORAGE", redis_url)
    apps = [Flash(__name__) for _ in range(2)]  # two "workers" on one Redis
    for app in apps:
        app.layout = html.Div([html.Button(id="btn"), html.Div(id="out")])

        @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
        async def count(n):
            total = (await ctx.shared_storage.aget("total", 0)) + n
            await ctx.shared_storage.aset("total", total)
            return f"total {total}"

    async def post(app, n):
        client = app.server.test_client()
        response = await client.post("/_dash-update-component", json=callback_body("out.children", [dep("btn", "n_clicks", n)]))
        return (await response.get_json())["response"]["out"]["children"]

    assert isinstance(apps[0].shared_storage, RedisSharedStorage)
    assert run(post(apps[0], 2)) == "total 2"
    assert run(post(apps[1], 5)) == "total 7"  # the other worker saw the first one's write
    assert apps[0].shared_storage.get("total") == 7
    apps[0].shared_storage.delete("total")
