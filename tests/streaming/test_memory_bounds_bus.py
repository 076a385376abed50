"""Registries of the stream bus that must shrink (issue 22), on a real redis-server with two
in-process workers: a page that runs many short streams over its life keeps no entry per
finished run in its holder's follower, wherever the runs ran."""

from __future__ import annotations

from tests.conftest import run
from tests.integration.conftest import redis_url  # noqa: F401
from tests.integration.test_bus_inprocess import Pair, on
from tests.streaming.downlink_client import Downlink, run_id, wait_until


def test_a_followers_runs_leave_it_when_they_end(redis_url):
    async def go():
        async with Pair(redis_url) as pair:
            async with Downlink(pair.ca) as page:
                follower = pair.a.stream_runs.bus.followers[run_id(page.token)]
                sizes = []
                for i in range(12):  # half run on the holder's worker, half on the other
                    client = pair.ca if i % 2 else pair.cb
                    app = pair.a if i % 2 else pair.b
                    handle = await on(client, page).start(app.server.config["ticks"], n=i, rows=3)
                    await page.finished(handle)
                    await wait_until(lambda h=handle: run_id(h) not in follower.follows)
                    sizes.append(len(follower.follows))
                live = await on(pair.cb, page).start(pair.b.server.config["endless"])
                await page.until(lambda ms: len(ms) >= 2, live)
                following = set(follower.follows)
                await page.close(live)
                await wait_until(lambda: not follower.follows)
                return sizes, following, run_id(live), dict(follower.follows)

    sizes, following, live, after = run(go())
    assert sizes == [0] * 12, "a finished run's follow is dropped"
    assert following == {live}, "a live run is followed"
    assert after == {}
