"""The bus's batching on a real redis-server: the run log's one-argument batches
(flash/streaming/bus/runlog.py) and the reader handing messages straight to an idle consumer
(`RedisSubscription.direct`, storage/redis_reader.py). Each would lose, reorder or repeat a
frame if the batching broke; these read back exactly what was written."""

from __future__ import annotations

import asyncio
import random

import redis

from flash.storage.codec import decode
from flash.streaming.bus.runlog import FLUSH_BATCH
from flash.streaming.bus.stream_bus import StreamBus
from flash.streaming.run.runs import StreamRun
from flash.streaming.wire.downlink import DownlinkRegistry

# Odd messages: spaces and digits where the batch's headers have them, newlines, quotes, UTF-8,
# an empty one, and one larger than a doorbell ring carries.
ODD = ["", "1 2 3 ", 'event: props\ndata: {"a": "b c"}\n\n', "é ☃ 𝄞", "9" * 700, " " * 5]


def _stored(url: str, bus: StreamBus, run_id: str) -> list[tuple[int, str]]:
    client = redis.Redis.from_url(url)
    try:
        entries = client.xrange(bus.run_keys(run_id)[0])
        counter = client.get(bus.run_keys(run_id)[1])
    finally:
        client.close()
    stored = [(int(entry_id.decode().split("-")[0]), decode(fields[b"m"])) for entry_id, fields in entries]
    assert stored == [] or int(counter) == stored[-1][0], "the counter names the last message"
    return stored


def test_many_runs_writes_interleaved_over_several_batches_land_each_once_in_order(redis_url):
    from flash import RedisSharedStorage

    # Run ids of different lengths (the batch carries each one's length), one with a space.
    run_ids = [f"r{i}" + "x" * (i % 7) for i in range(40)] + ["a b", "9 9 9"]
    expected: dict[str, list[tuple[int, str]]] = {run_id: [] for run_id in run_ids}

    async def go() -> None:
        storage = RedisSharedStorage(url=redis_url, key_prefix="batching")
        registry = DownlinkRegistry(resume_window=2)
        bus = registry.bus = StreamBus(storage, registry)
        downlink = registry.open("dl1", "token")
        runs = [StreamRun(run_id, "", "", downlink, 10_000, replay_bytes=1 << 30, bus=bus) for run_id in run_ids]
        rng = random.Random(7)
        writes = []
        for turn in range(30):  # writes queued while earlier batches are in flight, in random order
            for run in rng.sample(runs, len(runs)):
                run.seq += 1
                text = f"{run.run_id}#{run.seq} {ODD[(run.seq + turn) % len(ODD)]}"
                expected[run.run_id].append((run.seq, text))
                writes.append(bus.write(run, text.encode("utf-8"), final=turn == 29))
            if turn % 3 == 0:
                await asyncio.sleep(0)
        assert len(writes) > FLUSH_BATCH, "the queue outgrows one script call"
        await asyncio.gather(*writes)
        await bus.stop()
        await storage.aclose()

    asyncio.run(go())
    storage = RedisSharedStorage(url=redis_url, key_prefix="batching")
    bus = StreamBus(storage, DownlinkRegistry(resume_window=2))
    for run_id in run_ids:
        assert _stored(redis_url, bus, run_id) == expected[run_id], run_id
    storage.close()


def test_a_consumer_taking_some_messages_straight_from_the_reader_sees_every_one_once_in_order(redis_url):
    from flash import RedisSharedStorage
    from flash.storage.redis_reader import RedisSubscription

    count = 300

    async def go() -> tuple[list[int], int]:
        storage = RedisSharedStorage(url=redis_url, key_prefix="direct")
        seen: list[int] = []
        taken = 0

        def direct(seq: int, raw: bytes) -> bool:  # takes two of three, refuses the third
            nonlocal taken
            if seq % 3 == 0:
                return False
            seen.append(decode(raw)["n"])
            taken += 1
            return True

        sub = await storage.asubscribe("topic")
        assert isinstance(sub, RedisSubscription)
        sub.direct = direct

        async def consume() -> None:
            async for _seq, message in sub.aiter_with_seq():
                seen.append(message["n"])
                if message["n"] == count:
                    return

        consumer = asyncio.ensure_future(consume())
        await asyncio.sleep(0.2)  # subscribed and waiting
        for n in range(1, count + 1):
            await storage.apublish("topic", {"n": n})
            if n % 50 == 0:
                await asyncio.sleep(0.01)
        await asyncio.wait_for(consumer, 20)
        await storage.aclose()
        return seen, taken

    seen, taken = asyncio.run(go())
    assert seen == list(range(1, count + 1)), "each message once, in order, however it was taken"
    assert 0 < taken < count, "some went straight to the consumer, some through its iteration"


def test_a_write_that_fails_behind_a_generators_back_fails_its_next_message_and_its_end_still_lands(redis_url):
    """`StreamBus.publish` returns once a message is queued (its write lands behind the
    generator's back): a write Redis refused must still stop the run at its next message."""
    import pytest

    from flash import RedisSharedStorage
    from flash.streaming.bus.stream_bus import StreamBusError

    async def go() -> tuple[list[tuple[int, str]], bool]:
        storage = RedisSharedStorage(url=redis_url, key_prefix="failing")
        registry = DownlinkRegistry(resume_window=2)
        bus = registry.bus = StreamBus(storage, registry)
        downlink = registry.open("dl1", "token")
        run = StreamRun("broken", "", "", downlink, 100, bus=bus)
        client = storage.loop_state().client
        await client.set(bus.run_keys("broken")[0], "not a stream")
        run.seq += 1
        await bus.publish(run, b"first")  # queued: its failure is not this call's
        await bus.drain()
        run.seq += 1
        with pytest.raises(StreamBusError):
            await bus.publish(run, b"second")
        await client.delete(bus.run_keys("broken")[0])
        run.seq += 1
        await bus.finish(run, b"event: done\ndata: {}\n\n")
        left = "broken" in bus._writing
        await bus.stop()
        await storage.aclose()
        return _stored(redis_url, bus, "broken"), left

    stored, left = asyncio.run(go())
    assert stored == [(3, "event: done\ndata: {}\n\n")], "the end lands; the refused messages are not there"
    assert not left, "the run's failed write is forgotten once it ended"
