"""The local lane (flash/streaming/bus/lane.py) and the batched run log (runlog.py) on a real
redis-server: a run whose downlink is held by its own worker is forwarded from memory, yet every
message is in Redis first, so a resume anywhere (the other worker, or this one again) replays
exactly what was missed. Two in-process workers, as in test_bus_inprocess.py."""

from __future__ import annotations

import asyncio

import pytest
import redis

from flash.storage.codec import decode
from flash.streaming.bus.lane import LocalLane
from flash.streaming.bus.stream_bus import StreamBus, downlink_topic, run_topic
from flash.streaming.run.runs import StreamRun
from flash.streaming.wire.downlink import DownlinkRegistry
from tests.conftest import run
from tests.integration.test_bus_inprocess import Pair
from tests.streaming.downlink_client import Downlink, props_values, run_id, wait_until


def redis_entries(app, handle: str) -> list[int]:
    """The sequence ids the run's Redis stream holds now."""
    raw = redis.Redis.from_url(app.shared_storage.url)
    try:
        entries = raw.xrange(app.shared_storage.stream_key(run_topic(run_id(handle))))
    finally:
        raw.close()
    return [int(entry_id.decode().split("-")[0]) for entry_id, _ in entries]


def ack_key_exists(app, handle: str) -> bool:
    raw = redis.Redis.from_url(app.shared_storage.url)
    try:
        return bool(raw.exists(app.stream_runs.bus.ack_key(run_id(handle))))
    finally:
        raw.close()


def test_a_run_on_the_worker_holding_its_downlink_is_forwarded_from_memory_and_logged_in_redis(redis_url):
    async def go():
        async with Pair(redis_url) as pair:
            async with Downlink(pair.ca) as page:
                handle = await page.start(pair.a.server.config["ticks"], rows=40)
                await page.until(lambda ms: len(ms) >= 3, handle)
                live = pair.a.stream_runs.live_run(run_id(handle))
                lane_open = live is not None and isinstance(live.lane, LocalLane)
                messages = await page.finished(handle)
                return messages, lane_open, redis_entries(pair.a, handle), ack_key_exists(pair.a, handle)

    messages, lane_open, logged, acked_in_redis = run(go())
    assert lane_open, "the holder on the run's own worker takes the run's lane"
    assert [m.seq for m in messages] == list(range(1, 42)) and props_values(messages) == list(range(1, 41))
    assert logged == list(range(1, 42)), "every message, the last included, is in the replay log"
    assert not acked_in_redis, "the lane acknowledges in memory: no ack round trip to Redis"


def test_a_page_that_drops_and_comes_back_to_the_same_worker_catches_up_from_redis_then_the_lane(redis_url):
    async def go():
        async with Pair(redis_url) as pair:
            async with Downlink(pair.ca) as first:
                handle = await first.start(pair.a.server.config["endless"])
                await first.until(lambda ms: len(ms) >= 5, handle)
                await first.cut()
            live = pair.a.stream_runs.live_run(run_id(handle))
            seen = first.messages(handle)[-1].seq
            await wait_until(lambda: live.seq >= seen + 10)  # written while nobody forwards
            async with Downlink(pair.ca, first.token, {handle: seen}) as second:
                await second.until(lambda ms: len(ms) >= 30, handle)
                lane_back = isinstance(live.lane, LocalLane)
                await second.close(handle)
                rest = await second.finished(handle)
        return first.messages(handle), rest, seen, lane_back

    got, rest, seen, lane_back = run(go())
    assert lane_back, "after the catch-up the run's messages come from memory again"
    assert rest[0].seq == seen + 1
    assert [m.seq for m in got + rest] == list(range(1, len(got) + len(rest) + 1)), "nothing lost or repeated"
    assert rest[-1].event == "done"


def test_lane_hands_over_in_order_and_reports_the_end():
    async def go():
        lane = LocalLane()
        lane.push(1, b"a")
        lane.push(2, b"b")
        first = await lane.take()
        waiting = asyncio.ensure_future(lane.take())
        await asyncio.sleep(0)
        assert not waiting.done(), "take waits for the next push"
        lane.push(3, b"c")
        second = await waiting
        lane.end()
        return first, second, await lane.take()

    first, second, after_end = run(go())
    assert first == [(1, b"a"), (2, b"b")] and second == [(3, b"c")]
    assert after_end == [], "an ended lane gives nothing: the follower reads the rest from Redis"


async def _downlink_messages(storage, downlink_id: str) -> list:
    entries = await storage.loop_state().client.xrange(storage.stream_key(downlink_topic(downlink_id)))
    return [decode(fields[b"m"]) for _, fields in entries]


def test_the_run_log_writes_a_batch_once_even_when_it_is_sent_again_and_fails_loudly_otherwise(redis_url):
    from flash import RedisSharedStorage

    async def go():
        storage = RedisSharedStorage(url=redis_url, key_prefix="lanelog")
        registry = DownlinkRegistry(resume_window=2)
        bus = registry.bus = StreamBus(storage, registry)
        log = bus.log
        downlink = registry.open("dl1", "token")
        runs = [StreamRun(f"r{i}", "", "", downlink, 100, bus=bus) for i in range(3)]
        writes = []
        for seq in (1, 2):
            for one in runs:
                one.seq = seq
                writes.append(log.write(one, f"m{seq}".encode(), final=seq == 2))
        await asyncio.gather(*writes)
        # A retried call (its reply was lost) must not fail nor write twice.
        await log._write_batch([(runs[0], 2, b"m2", False)])
        client = storage.loop_state().client
        stored = [await client.xrange(bus.run_keys(one.run_id)[0]) for one in runs]
        counters = [int(await client.get(bus.run_keys(one.run_id)[1])) for one in runs]
        # Anything else wrong fails every writer of the batch.
        await client.set(bus.run_keys("broken")[0], "not a stream")
        broken = StreamRun("broken", "", "", downlink, 100, bus=bus)
        broken.seq = 1
        with pytest.raises(Exception, match="WRONGTYPE"):
            await log.write(broken, b"x")
        ended = [message["end"] for message in await _downlink_messages(storage, "dl1") if "end" in message]
        await bus.stop()
        await storage.aclose()
        return stored, counters, ended

    stored, counters, ended = run(go())
    assert [[entry_id for entry_id, _ in entries] for entries in stored] == [[b"1-0", b"2-0"]] * 3
    assert counters == [2, 2, 2]
    assert sorted(ended) == ["r0", "r1", "r2"], "each run's end is announced after its last message"
