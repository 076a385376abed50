"""The bus's own Redis connections on a real redis-server: `HeldConnection`
(flash/storage/redis_client.py), which the run log's writes (streaming/bus/runlog.py) and the
subscription reader's doorbell reads (storage/redis_reader.py) use instead of a pool checkout
per command. A script Redis lost is loaded again, a connection Redis closed is replaced, a
command cut by a cancel leaves no reply behind for the next one, the client's close closes them;
the run log's writes land across all of that, and the reader's parse of raw rings takes a ring
whose fields come in another order."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis

from flash import RedisSharedStorage
from flash.storage import redis_reader
from flash.storage.codec import decode, encode
from flash.streaming.bus.stream_bus import StreamBus
from flash.streaming.run.runs import StreamRun
from flash.streaming.wire.downlink import DownlinkRegistry
from tests.conftest import run


@pytest.fixture
def storage(redis_url):
    backend = RedisSharedStorage(url=redis_url, key_prefix=f"held{uuid.uuid4().hex[:8]}")
    yield backend
    backend.close()


def _clients_named(redis_url: str, name: str) -> int:
    admin = redis.Redis.from_url(redis_url)
    try:
        return sum(1 for client in admin.client_list() if client.get("name") == name)
    finally:
        admin.close()


def test_a_held_connection_survives_a_lost_script_a_closed_socket_and_a_cancelled_read(storage, redis_url):
    name = f"held-{uuid.uuid4().hex[:8]}"

    async def go():
        state = storage.loop_state()
        held = state.client.hold()
        script = state.script("return ARGV[1] .. KEYS[1]")
        admin = redis.Redis.from_url(redis_url)
        try:
            first = await held.evalsha(script, ["k"], ["v"])
            admin.script_flush()  # Redis lost every script (a restart, SCRIPT FLUSH)
            reloaded = await held.evalsha(script, ["k"], ["w"])
            before = await held.call("CLIENT", "ID")
            admin.execute_command("CLIENT", "KILL", "ID", before)  # Redis closes its socket
            pong = await held.call("PING")  # sent once more, on a new socket
            after = await held.call("CLIENT", "ID")
            # A blocking read cut by a cancel: its reply, once Redis sends it, must not be taken
            # for the next command's.
            key = storage.key("cut")
            reading = asyncio.ensure_future(held.call("XREAD", "BLOCK", 5000, "STREAMS", key, "$"))
            await asyncio.sleep(0.2)
            reading.cancel()
            await asyncio.wait([reading])
            admin.xadd(key, {"a": 1})
            nothing = await held.call("GET", storage.key("never-set"))
            await held.call("CLIENT", "SETNAME", name)
            named = _clients_named(redis_url, name)
            await storage.aclose()  # closes the client, and with it every connection it held
            for _ in range(100):
                if not _clients_named(redis_url, name):
                    break
                await asyncio.sleep(0.05)
            return first, reloaded, pong, before != after, reading.cancelled(), nothing, named, _clients_named(redis_url, name)
        finally:
            admin.close()

    first, reloaded, pong, replaced, cancelled, nothing, named, left = run(go())
    assert (first, reloaded) == (b"vk", b"wk")
    assert pong in (b"PONG", "PONG") and replaced
    assert cancelled and nothing is None, "the cut read's reply was left behind for the next command"
    assert (named, left) == (1, 0), "the client's close closed its held connection"


def test_the_run_logs_writes_land_after_redis_lost_its_scripts_and_closed_its_connections(redis_url):
    async def go():
        storage = RedisSharedStorage(url=redis_url, key_prefix=f"heldlog{uuid.uuid4().hex[:8]}")
        registry = DownlinkRegistry(resume_window=2)
        bus = registry.bus = StreamBus(storage, registry)
        downlink = registry.open("dl1", "token")
        one = StreamRun("r1", "", "", downlink, 100, bus=bus)
        admin = redis.Redis.from_url(redis_url)
        try:
            one.seq = 1
            await bus.log.write(one, b"m1")
            admin.script_flush()
            admin.execute_command("CLIENT", "KILL", "TYPE", "normal")  # every client but this one
            one.seq = 2
            await bus.log.write(one, b"m2")
            entries = await storage.loop_state().client.xrange(bus.run_keys("r1")[0])
            await bus.stop()
            closed = not bus.log.connection.open
            one.seq = 3
            await bus.log.write(one, b"m3")  # after a stop: a new connection
            count = await storage.loop_state().client.xlen(bus.run_keys("r1")[0])
            await bus.stop()
            await storage.aclose()
        finally:
            admin.close()
        return [(entry_id, decode(fields[b"m"])) for entry_id, fields in entries], closed, count

    entries, closed, count = run(go())
    assert entries == [(b"1-0", "m1"), (b"2-0", "m2")]
    assert closed and count == 3


def test_a_ring_with_its_fields_in_another_order_still_brings_its_message(storage, redis_url, monkeypatch):
    monkeypatch.setattr(redis_reader, "SWEEP_S", 3600.0)  # after the first sweep: rings only

    async def go():
        sub = await storage.asubscribe("odd")
        got: asyncio.Queue = asyncio.Queue()

        async def read():
            async for message in sub:
                await got.put(message)

        reader = asyncio.ensure_future(read())
        await storage.apublish("odd", "zero")  # the reader is up and waits on the doorbell
        first = await asyncio.wait_for(got.get(), 10)
        stream, counter = storage.stream_key("odd"), storage.seq_key("odd")
        raw = redis.Redis.from_url(redis_url)
        try:
            # Another writer's layout: the same fields in another order, then a ring without its
            # message (the reader reads the stream).
            raw.xadd(stream, {"m": encode("one")}, id="2-0")
            raw.set(counter, 2)
            raw.xadd(storage.doorbell_key, {"s": 2, "m": encode("one"), "k": stream})
            raw.xadd(stream, {"m": encode("two")}, id="3-0")
            raw.set(counter, 3)
            raw.xadd(storage.doorbell_key, {"k": stream})
        finally:
            raw.close()
        rest = [await asyncio.wait_for(got.get(), 10) for _ in range(2)]
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await storage.aclose()
        return [first, *rest]

    assert run(go()) == ["zero", "one", "two"]
