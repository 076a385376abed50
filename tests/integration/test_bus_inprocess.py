"""The stream bus in one process: two Flash apps ("workers") on one real redis-server, each with
its own in-process client, so every request can land on the other one. Start on B, downlink on
A; cancel on either; resume on the other after a drop (exact replay); tab close; a lost worker.
The several-process version behind haproxy is test_bus_workers.py."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis

from flash import Flash, Input, RedisSharedStorage, State, html, stream_props
from flash.streaming.bus.liveness import WORKER_LOST
from tests.conftest import run
from tests.streaming.downlink_client import Downlink, props_values, run_id, setup, wait_until

SECRET = "bus-inprocess-secret-0123456789abcdef"


def worker(redis_url: str, prefix: str, restart: bool = False, **options) -> Flash:
    app = Flash(
        __name__,
        secret_key=SECRET,
        stream_resume_window=2,
        shared_storage=RedisSharedStorage(url=redis_url, key_prefix=prefix),
        **options,
    )
    app.layout = html.Div([html.Button(id="go"), html.Div(id="out"), html.Div(id="rows")])

    @app.event_callback(Input("go", "n_clicks"), State("rows", "children"), reset_props=[("out", {"children": "reset"})])
    async def ticks(n, rows):
        for i in range(1, (rows or 40) + 1):
            yield stream_props("out", {"children": i})
            await asyncio.sleep(0.01)

    @app.event_callback(Input("go", "n_clicks"), State("out", "children"), restart_on_worker_loss=restart)
    async def endless(n, _out):
        i = 0
        try:
            while True:
                i += 1
                yield stream_props("out", {"children": i})
                await asyncio.sleep(0.01)
        finally:
            app.server.config.setdefault("closed", []).append(i)

    app.server.config["ticks"], app.server.config["endless"] = ticks.stream_id, endless.stream_id
    return app


class Pair:
    def __init__(self, redis_url: str, **options) -> None:
        prefix = f"bus{uuid.uuid4().hex[:8]}"
        self.a, self.b = worker(redis_url, prefix, **options), worker(redis_url, prefix, **options)
        self.prefix = prefix
        self.ca, self.cb = self.a.server.test_client(), self.b.server.test_client()

    async def __aenter__(self) -> "Pair":
        await setup(self.ca)
        await setup(self.cb)
        return self

    async def __aexit__(self, *exc) -> None:
        for app in (self.a, self.b):
            await app.stream_runs.bus.stop()
            await app.shared_storage.aclose()


def on(client, downlink: Downlink) -> Downlink:
    """The same page's requests sent to another worker."""
    other = Downlink.__new__(Downlink)
    other.__dict__.update(downlink.__dict__)
    other.client = client
    return other


def test_a_run_started_on_one_worker_streams_down_the_downlink_held_by_the_other(redis_url):
    async def go():
        async with Pair(redis_url) as pair:
            async with Downlink(pair.ca) as page:
                handle = await on(pair.cb, page).start(pair.b.server.config["ticks"], rows=30)
                assert pair.b.stream_runs.live_run(run_id(handle)) is not None, "B runs it"
                assert pair.a.stream_runs.live_run(run_id(handle)) is None
                messages = await page.finished(handle)
        return messages

    messages = run(go())
    assert [m.seq for m in messages] == list(range(1, 32))
    assert props_values(messages) == list(range(1, 31))
    assert messages[-1].event == "done"


def test_a_cancel_landing_on_the_other_worker_closes_the_run(redis_url):
    async def go():
        async with Pair(redis_url) as pair:
            async with Downlink(pair.ca) as page:
                handle = await on(pair.cb, page).start(pair.b.server.config["endless"])
                await page.until(lambda ms: len(ms) >= 3, handle)
                status, answer = await page.close(handle)  # lands on A; B runs it
                messages = await page.finished(handle)
                await wait_until(lambda: pair.b.server.config.get("closed"))
                closed = pair.b.server.config.get("closed")
        return status, answer, messages, closed

    status, answer, messages, closed = run(go())
    assert status == 200 and answer == {"closed": 0, "forwarded": 1, "unknown": []}
    assert messages[-1].event == "done" and messages[-1].data == {"closed": True}
    assert closed and len(closed) == 1, "the generator's finally ran on B"


def test_a_resume_on_the_other_worker_replays_exactly_what_was_missed(redis_url):
    async def go():
        async with Pair(redis_url) as pair:
            async with Downlink(pair.ca) as first:
                handle = await first.start(pair.a.server.config["ticks"], rows=60)
                await first.until(lambda ms: len(ms) >= 5, handle)
                await first.cut()
            got = first.messages(handle)
            async with Downlink(pair.cb, first.token, {handle: got[-1].seq}) as second:
                rest = await second.finished(handle)
        return first.token, got, second, rest

    token, got, second, rest = run(go())
    assert second.resumed is True and second.token == token
    assert [m.seq for m in got + rest] == list(range(1, 62)), "nothing lost, nothing repeated"
    assert props_values(got + rest) == list(range(1, 61))


def test_a_tab_that_never_comes_back_has_its_runs_closed_on_the_worker_running_them(redis_url):
    async def go():
        async with Pair(redis_url) as pair:
            async with Downlink(pair.ca) as page:
                handle = await on(pair.cb, page).start(pair.b.server.config["endless"])
                await page.until(lambda ms: len(ms) >= 3, handle)
                await page.cut()
            # presence lapses one resume window (2 s) + 2 s after A let go; B's tick sees it.
            await wait_until(lambda: pair.b.server.config.get("closed"), turns=600)
            return pair.b.server.config.get("closed"), pair.b.stream_runs.live_run(run_id(handle))

    closed, live = run(go())
    assert closed and live is None


@pytest.mark.parametrize("restart", [False, True])
def test_the_page_is_told_when_the_worker_running_its_stream_dies(redis_url, restart):
    async def go():
        async with Pair(redis_url, restart=restart) as pair:
            async with Downlink(pair.ca) as page:
                handle = await on(pair.cb, page).start(pair.b.server.config["endless"])
                await page.until(lambda ms: len(ms) >= 3, handle)
                # B dies as a killed process would: its generator stops without writing another
                # message (no bus), its bus tasks stop and its lease is not renewed.
                bus_b = pair.b.stream_runs.bus
                run_b = pair.b.stream_runs.live_run(run_id(handle))
                run_b.bus = None
                run_b.task.cancel()
                for task in bus_b._tasks:
                    task.cancel()
                bus_b._tasks = []
                raw = redis.Redis.from_url(redis_url)
                raw.delete(bus_b.lease_key(bus_b.worker_id))
                raw.close()
                messages = await page.finished(handle, timeout=10)
        return messages

    messages = run(go())
    seqs = [m.seq for m in messages]
    assert seqs == list(range(1, len(seqs) + 1))
    if restart:
        assert messages[-1].event == "gone", "the page starts the run over on a live worker"
    else:
        assert messages[-1].event == "error"
        assert messages[-1].data == {"message": WORKER_LOST, "handled": False}


PAYLOAD = 5000  # characters per message of the `big` stream
LIMIT = 20_000  # its app's stream_replay_bytes


def big_pair(redis_url: str) -> Pair:
    pair = Pair(redis_url, stream_replay_bytes=LIMIT)
    for app in (pair.a, pair.b):

        @app.event_callback(Input("go", "n_clicks"), State("rows", "children"))
        async def big(n, rows):
            for i in range(1, (rows or 60) + 1):
                yield stream_props("out", {"children": f"{i}:" + "x" * PAYLOAD})

        app.server.config["big"] = big.stream_id
    return pair


def stored_bytes(app: Flash, handle: str) -> int:
    """What the run's Redis stream holds now (message bodies)."""
    from flash.streaming.bus.stream_bus import run_topic

    raw = redis.Redis.from_url(app.shared_storage.url)
    try:
        entries = raw.xrange(app.shared_storage.stream_key(run_topic(run_id(handle))))
    finally:
        raw.close()
    return sum(len(fields[b"m"]) for _, fields in entries)


def test_a_runs_redis_stream_holds_about_stream_replay_bytes_however_large_its_messages(redis_url):
    """60 messages of 5 KB with stream_replay_bytes=20 KB: all arrive, in order, while Redis never
    holds more than twice the limit plus one message (it held all 300 KB before the byte bound)."""

    async def go():
        async with big_pair(redis_url) as pair:
            async with Downlink(pair.ca) as page:
                handle = await on(pair.cb, page).start(pair.b.server.config["big"], rows=60)
                peak = 0
                while not page.messages(handle) or page.messages(handle)[-1].event != "done":
                    peak = max(peak, stored_bytes(pair.b, handle))
                    await page.until(lambda ms, n=len(page.messages(handle)): len(ms) > n, handle, timeout=10)
                peak = max(peak, stored_bytes(pair.b, handle))
                return page.messages(handle), peak

    messages, peak = run(go())
    assert [m.seq for m in messages] == list(range(1, 62))
    assert [int(v.split(":")[0]) for v in props_values(messages)] == list(range(1, 61))
    assert peak <= 2 * LIMIT + PAYLOAD + 1000, peak


def test_a_run_whose_page_is_away_waits_at_stream_replay_bytes_and_the_resume_loses_nothing(redis_url):
    async def go():
        async with big_pair(redis_url) as pair:
            async with Downlink(pair.ca) as first:
                handle = await on(pair.cb, first).start(pair.b.server.config["big"], rows=60)
                await first.until(lambda ms: len(ms) >= 1, handle)
                await first.cut()
            run_b = pair.b.stream_runs.live_run(run_id(handle))
            seen = first.messages(handle)[-1].seq
            # Nobody forwards now: B writes until LIMIT bytes wait unacknowledged, then waits.
            await wait_until(lambda: False, turns=25)
            stalled_at = run_b.seq
            await wait_until(lambda: False, turns=25)
            still = run_b.seq
            async with Downlink(pair.ca, first.token, {handle: seen}) as second:
                rest = await second.finished(handle, timeout=10)
            return first.messages(handle), rest, stalled_at, still

    got, rest, stalled_at, still = run(go())
    assert stalled_at == still, "the generator waits for the page instead of filling Redis"
    assert stalled_at < 10, stalled_at  # about LIMIT / PAYLOAD messages ahead, not WINDOW (128)
    assert [m.seq for m in got + rest] == list(range(1, 62)), "nothing lost, nothing repeated"
