"""Channels on a real redis-server: a publish on one worker reaches subscribers on every worker;
one producer for the whole cluster (a lease), handed over when its worker's watchers leave; a
plain script publishes with `publish_sync`."""

from __future__ import annotations

import asyncio
import sys
import uuid

import pytest

from flash import Channel, Flash, RedisSharedStorage, html
from flash import channels as channels_module
from tests.conftest import run


@pytest.fixture(autouse=True)
def fresh_channels():
    channels_module._NAMED.clear()
    channels_module._PRODUCERS.clear()
    yield


def workers(redis_url: str, count: int = 2) -> list[Flash]:
    prefix = f"ch{uuid.uuid4().hex[:8]}"
    apps = []
    for _ in range(count):
        app = Flash(__name__, shared_storage=RedisSharedStorage(url=redis_url, key_prefix=prefix))
        app.layout = html.Div()
        apps.append(app)
    return apps


async def take(sub, count: int) -> list:
    return [await asyncio.wait_for(sub.__anext__(), 5) for _ in range(count)]


async def close_all(apps) -> None:
    for app in apps:
        await app.shared_storage.aclose()


def test_a_publish_on_one_worker_reaches_subscribers_on_every_worker(redis_url):
    a, b = workers(redis_url)

    async def go():
        feed = Channel("feed")
        on_a, on_b, also_b = feed.subscribe(a), feed.subscribe(b), feed.subscribe(b)
        for sub in (on_a, on_b, also_b):
            await sub.ready()  # each worker's Redis subscription starts from the head
        for i in range(5):
            await feed.publish({"n": i}, app=a)
        got = [await take(sub, 5) for sub in (on_a, on_b, also_b)]
        for sub in (on_a, on_b, also_b):
            sub.close()
        await close_all([a, b])
        return got

    expected = [{"n": i} for i in range(5)]
    assert run(go()) == [expected, expected, expected]


def test_one_producer_for_the_cluster_handed_over_when_its_watchers_leave(redis_url):
    a, b = workers(redis_url)
    feed = Channel("clock")
    started = []

    @feed.producer
    async def produce():
        me = len(started)
        started.append(me)
        i = 0
        while True:
            i += 1
            yield {"producer": me, "i": i}
            await asyncio.sleep(0.05)

    async def go():
        on_a = feed.subscribe(a)
        first = await take(on_a, 1)
        on_b = feed.subscribe(b)
        await take(on_b, 3)
        seen_by_b = {m["producer"] for m in await take(on_b, 20)}
        one_producer = len(started) == 1
        on_a.close()  # a ran it: its lease goes, b's hub takes over
        after = await take(on_b, 5)
        on_b.close()
        await close_all([a, b])
        return first, seen_by_b, one_producer, after

    first, seen_by_b, one_producer, after = run(go())
    assert one_producer and seen_by_b == {0}, "both workers see the one producer's messages"
    assert len(started) == 2 and after[-1]["producer"] == 1, "b's worker took over"


def test_a_plain_script_publishes_with_publish_sync(redis_url):
    (app,) = workers(redis_url, 1)
    prefix = app.shared_storage.key_prefix
    script = (
        "from flash import Channel, RedisSharedStorage\n"
        f"Channel('alerts').publish_sync('disk full', storage=RedisSharedStorage({redis_url!r}, {prefix!r}))\n"
    )

    async def go():
        sub = Channel("alerts").subscribe(app)
        await sub.ready()
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
        assert await proc.wait() == 0
        got = await take(sub, 1)
        sub.close()
        await close_all([app])
        return got

    assert run(go()) == ["disk full"]
