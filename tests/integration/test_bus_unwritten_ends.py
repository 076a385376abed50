"""A run that ends while Redis refuses writes: its last message is not written, and its worker
lives on, so nothing else would ever tell a page that reconnects (no lease lapses). The bus keeps
that end and writes it once Redis takes writes again; a run of this worker that is gone with no
end on the way at all is ended by the holder. In process, two workers on a real redis-server that
refuses writes for a moment (`min-replicas-to-write 1` with no replica: every write gets
NOREPLICAS, and unlike a paused server no refused command lands later). Redis paused past the
socket timeout under several real processes: test_redis_outages.py."""

from __future__ import annotations

import contextlib
from typing import Iterator

import redis

from flash.streaming.bus.liveness import WORKER_LOST
from tests.conftest import run
from tests.integration.test_bus_inprocess import Pair, on
from tests.streaming.downlink_client import Downlink, run_id, wait_until

CLOSED = {"closed": True}


@contextlib.contextmanager
def writes_refused(redis_url: str) -> Iterator[None]:
    client = redis.Redis.from_url(redis_url)
    client.config_set("min-replicas-to-write", 1)
    try:
        yield
    finally:
        client.config_set("min-replicas-to-write", 0)
        client.close()


async def end_while_writes_are_refused(pair: Pair, redis_url: str, forget: bool) -> tuple[str, str, int]:
    """A page on A, its run on B, closed on B while Redis refuses writes (quickly: B's lease,
    a write too, lapses after 3 s). `forget`: B gives the end up, as after the resume window."""
    async with Downlink(pair.ca) as page:
        handle = await on(pair.cb, page).start(pair.b.server.config["endless"])
        await page.until(lambda ms: len(ms) >= 3, handle)
        bus = pair.b.stream_runs.bus
        with writes_refused(redis_url):
            seen = page.messages(handle)[-1].seq
            pair.b.stream_runs.live_run(run_id(handle)).close()
            assert await wait_until(lambda: len(pair.b.stream_runs) == 0), "the run ended"
            assert run_id(handle) in bus.unwritten_ends, "its end was refused and kept"
            if forget:
                bus.unwritten_ends.forget_all()
        await page.cut()
    return page.token, handle, seen


def test_an_end_redis_refused_is_written_once_it_takes_writes_and_a_reconnecting_page_gets_it(redis_url):
    async def go():
        async with Pair(redis_url) as pair:
            token, handle, seen = await end_while_writes_are_refused(pair, redis_url, forget=False)
            # the page reconnects on the worker that ran it: no lease lapses there to end the run
            async with Downlink(pair.cb, token, {handle: seen}) as again:
                rest = await again.finished(handle, timeout=10)
            bus = pair.b.stream_runs.bus
            return rest, await wait_until(lambda: run_id(handle) not in bus.unwritten_ends)

    rest, forgotten = run(go())
    assert [(m.event, m.data) for m in rest] == [("done", CLOSED)], rest
    assert forgotten, "written, then forgotten"


def test_a_run_of_this_worker_gone_with_no_end_on_the_way_is_ended_by_its_holder(redis_url):
    async def go():
        async with Pair(redis_url) as pair:
            token, handle, seen = await end_while_writes_are_refused(pair, redis_url, forget=True)
            async with Downlink(pair.cb, token, {handle: seen}) as again:
                return await again.finished(handle, timeout=10)

    rest = run(go())
    assert [m.event for m in rest] == ["error"] and rest[-1].data["message"] == WORKER_LOST, rest
