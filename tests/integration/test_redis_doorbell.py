"""The async reader of `RedisSharedStorage` (flash/storage/redis_reader.py) on a real
redis-server: it waits on the doorbell every publish rings, takes small messages from their
rings and reads only the rung streams of larger ones, and
its once-a-second sweep still delivers what nobody rang for and catches up a reader that fell
further behind than the doorbell keeps."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis

from flash import RedisSharedStorage
from flash.storage import redis_reader
from flash.storage.codec import encode
from tests.conftest import run


@pytest.fixture
def storage(redis_url):
    backend = RedisSharedStorage(url=redis_url, key_prefix=f"bell{uuid.uuid4().hex[:8]}", buffer_size=20_000)
    yield backend
    backend.close()


async def _take(sub, count: int, timeout: float = 10) -> list:
    got = []

    async def read():
        async for message in sub:
            got.append(message)
            if len(got) == count:
                return

    await asyncio.wait_for(read(), timeout)
    return got


async def _reader_settled(reader, timeout: float = 20.0) -> None:
    """Until the shared reader has no new stream left to read and no sweep under way, three
    checks in a row (a fixed sleep was not enough on a loaded machine: the reader was still
    reading new subscriptions' streams when the test started counting reads)."""
    loop = asyncio.get_running_loop()
    deadline, quiet = loop.time() + timeout, 0
    while quiet < 3:
        assert loop.time() < deadline, "the reader never settled"
        await asyncio.sleep(0.05)
        quiet = quiet + 1 if reader._task is not None and not reader._dirty and not reader._sweeping else 0


def test_a_small_message_rides_in_its_ring_and_a_large_one_reads_only_its_own_stream(storage, monkeypatch):
    async def go():
        subs = [await storage.asubscribe(f"topic{i}") for i in range(200)]
        client = storage.loop_state().client
        reads: list[list[str]] = []
        real_xread = client.xread

        async def recording_xread(streams, *args, **kwargs):
            reads.append([k for k in streams if "stream:" in k])
            return await real_xread(streams, *args, **kwargs)

        monkeypatch.setattr(client, "xread", recording_xread)
        monkeypatch.setattr(redis_reader, "SWEEP_S", 3600.0)  # after the first sweep: rings only
        takers = [asyncio.ensure_future(_take(sub, 1)) for sub in subs]  # the reader follows all 200
        await _reader_settled(storage.loop_state().reader)  # up, and done with its first reads
        reads.clear()
        await storage.apublish("topic0", "a")
        await storage.apublish("topic1", "b" * (redis_reader.RING_PAYLOAD_MAX + 1))
        got = await asyncio.gather(*takers[:2])
        for taker in takers[2:]:
            taker.cancel()
        await asyncio.gather(*takers[2:], return_exceptions=True)
        await storage.aclose()
        return got, reads

    got, reads = run(go())
    assert got == [["a"], ["b" * (redis_reader.RING_PAYLOAD_MAX + 1)]]
    followed = [keys for keys in reads if keys]
    assert followed == [[followed[0][0]]] and followed[0][0].endswith(":topic1"), (
        "one read, of the large message's stream only; the small one came in its ring"
    )


def test_a_message_nobody_rang_for_arrives_with_the_next_sweep(storage, redis_url):
    async def go():
        sub = await storage.asubscribe("quiet")
        taker = asyncio.ensure_future(_take(sub, 1))
        await asyncio.sleep(0.3)
        # An older publisher: appends and numbers the message, rings nothing.
        raw = redis.Redis.from_url(redis_url)
        raw.xadd(storage.stream_key("quiet"), {"m": encode("late")}, id="1-0")
        raw.set(storage.seq_key("quiet"), 1)
        raw.close()
        got = await taker
        await storage.aclose()
        return got

    assert run(go()) == ["late"]


def test_a_reader_further_behind_than_the_doorbell_keeps_still_gets_every_message(storage, monkeypatch):
    from flash.storage import redis as redis_storage

    monkeypatch.setattr(redis_storage, "DOORBELL_LEN", 100)  # rings trimmed long before they are read
    monkeypatch.setattr(redis_reader, "_BELL_COUNT", 50)  # one read of rings takes at most 50

    def burst():  # another process would do the same: the sync client, on its own thread
        for i in range(3000):
            storage.publish("busy", i)
            if i % 10 == 0:
                storage.publish("noise", i)  # rings this reader does not follow

    async def go():
        sub = await storage.asubscribe("busy")
        taker = asyncio.ensure_future(_take(sub, 3000, timeout=30))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(burst)
        got = await taker
        bell = await storage.loop_state().client.xlen(storage.doorbell_key)
        await storage.aclose()
        return got, bell

    got, bell = run(go())
    assert got == list(range(3000)), "in order, nothing lost or repeated"
    assert bell < 1000, "the doorbell stayed short (most rings were trimmed before being read)"
