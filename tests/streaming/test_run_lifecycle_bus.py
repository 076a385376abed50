"""Every run ends, whatever the moment, with the stream bus (a real redis-server): closed before its
pump task took a step, a start cancelled while it announces its run, Redis going away mid-stream.
A run left registered would keep renewing its Redis keys and count against its client's limit."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import redis

from flash import RedisSharedStorage
from flash.streaming.wire.endpoint import start_run
from tests.conftest import run
from tests.integration.cluster import RedisServer
from tests.integration.conftest import free_port
from tests.streaming.downlink_client import Downlink, setup, start_body, wait_until
from tests.streaming.test_run_lifecycle import Lifecycle, ended_closed

SECRET = "lifecycle-bus-secret-0123456789abcdef"


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def bus_lifecycle(url: str, pool: int = 100) -> Lifecycle:
    storage = RedisSharedStorage(url=url, key_prefix=f"life{uuid.uuid4().hex[:8]}")
    return Lifecycle(pool, secret_key=SECRET, shared_storage=storage, stream_resume_window=1)


async def stop_bus(life: Lifecycle) -> None:
    await life.app.stream_runs.bus.stop()
    await life.app.shared_storage.aclose()


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_run_closed_before_its_task_took_a_step_ends_on_the_bus(redis_server, kind):
    life = bus_lifecycle(redis_server.url)

    async def go():
        client = life.app.server.test_client()
        await setup(client)
        try:
            async with Downlink(client) as page:
                handle, found = await life.start_unstepped(page, kind)
                found.close()
                messages = await page.finished(handle)
                assert await wait_until(life.no_trace), life.app.stream_runs.runs()
                return messages
        finally:
            await stop_bus(life)

    try:
        messages = run(go())
    finally:
        life.release()
    assert ended_closed(messages) and [m.event for m in messages] == ["done"], messages
    assert life.counts[f"{kind} started"] == 0 and life.counts[f"{kind} finally"] == 0


def test_a_start_cancelled_while_it_announces_its_run_still_ends_the_run(redis_server):
    """The start request goes away while Redis is slow (writes paused): the run was registered,
    so its pump still runs, tells Redis it closed once Redis answers, and leaves no trace."""
    life = bus_lifecycle(redis_server.url)
    admin = redis.Redis.from_url(redis_server.url)

    async def go():
        client = life.app.server.test_client()
        await setup(client)
        try:
            async with Downlink(client) as page:
                body = json.dumps(start_body(page.token)).encode()

                async def start():
                    async with life.app.server.test_request_context("/_flash/stream/x", method="POST"):
                        await start_run(life.app, life.ids["async"], body)

                admin.execute_command("CLIENT", "PAUSE", 1000, "WRITE")
                starting = asyncio.ensure_future(start())
                assert await wait_until(lambda: len(life.app.stream_runs) == 1, turns=25)
                await asyncio.sleep(0.1)  # it waits on Redis, announcing the run
                starting.cancel()
                await asyncio.wait([starting])
                registered = [found.run_id for found in life.app.stream_runs.runs()]
                ended = await wait_until(life.no_trace, turns=250)
                return registered, ended, starting.cancelled()
        finally:
            await stop_bus(life)

    try:
        registered, ended, cancelled = run(go())
    finally:
        life.release()
        admin.close()
    assert cancelled and len(registered) == 1
    assert ended, "the run left the registry once Redis answered"
    assert life.counts["async started"] == 0 and life.counts["async finally"] == 0


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_run_whose_redis_goes_away_mid_stream_ends_and_runs_its_finally(redis_server, kind):
    life = bus_lifecycle(redis_server.url)

    @life.app.server.route("/_noop")
    async def noop():
        return "ok"

    async def go():
        client = life.app.server.test_client()
        await setup(client)
        try:
            async with Downlink(client) as page:
                handle = await page.start(life.ids[kind], n=3 if kind == "async" else 1)
                await page.until(lambda ms: len(ms) >= 1, handle)
                redis_server.kill()  # every write from now on fails
                life.release()  # the generators go on yielding into a bus that is gone
                ended = await wait_until(lambda: life.no_trace() and life.counts[f"{kind} finally"] == 1, turns=500)
                return ended, page.messages(handle)
        finally:
            try:
                await stop_bus(life)
            except Exception:  # Redis is gone
                pass

    try:
        ended, messages = run(go())
    finally:
        life.release()
    assert ended, f"live runs: {len(life.app.stream_runs)}, counts: {life.counts}"
    assert life.counts[f"{kind} started"] == 1 and life.counts[f"{kind} finally"] == 1
    assert messages[-1].event in ("props", "gone"), messages  # the end lands only if Redis does


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_streaming_job_closed_while_queued_writes_its_closed_end(redis_server, kind):
    """A Celery streaming job (jobs.py) whose run the page closed before a worker took it: the
    job registers the run before it checks, so no close can slip between, and its pump's first
    step writes `done {"closed": true}` for the page's holder instead of leaving it waiting."""
    from flash.streaming.bus.stream_bus import run_topic
    from flash.streaming.wire.jobs import run_job

    life = bus_lifecycle(redis_server.url)
    app = life.app
    admin = redis.Redis.from_url(redis_server.url)

    async def go():
        app.take_streams()
        downlink_id, _ = app.stream_signer.new_downlink()
        rid, handle = app.stream_signer.new_run(downlink_id)
        await app.stream_runs.bus.broadcast_close([rid])  # the page closed it while it was queued
        body = start_body("")
        payload = {
            "stream_id": life.ids[kind],
            "run_id": rid,
            "handle": handle,
            "downlink": downlink_id,
            "worker": f"job-{rid}",
            "body": {key: body[key] for key in ("inputs", "state", "changedPropIds")},
        }
        await asyncio.wait_for(run_job(app, payload), 10)
        return rid

    try:
        rid = run(go())
        entries = admin.xrange(app.shared_storage.stream_key(run_topic(rid)))
    finally:
        life.release()
        admin.close()
    written = [json.loads(value) for _, fields in entries for value in fields.values()]  # the SSE messages
    assert len(written) == 1 and written[0].startswith("event: done\n") and '"data":{"closed":true}' in written[0], written
    assert life.counts[f"{kind} started"] == 0 and life.counts[f"{kind} finally"] == 0
