"""Resuming a downlink in-process: after a drop every run continues from the last seq received
(nothing lost, nothing repeated), a finished run's tail is replayed instead of run again, a run
that cannot be resumed is `gone`, and a downlink nobody reconnects closes its runs."""

import asyncio

import pytest
from quart import request

from flash import Input, State, event_callback, stream_props
from tests.conftest import run
from tests.streaming.downlink_client import Downlink, make_app, props_values, run_id, setup, wait_until
from tests.streaming.probe import drop_connections


def kinds(messages):
    return [m.event for m in messages]


@pytest.mark.parametrize("drop", ["browser", "server"])
def test_a_dropped_downlink_resumes_every_run_after_its_last_received_seq(drop):
    app = make_app(stream_resume_window=5)

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def ticks(n, rows):
        for i in range(1, 41):
            yield stream_props("out", {"children": i})
            await asyncio.sleep(0.002)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as first:
            handle = await first.start(ticks.stream_id)
            await first.until(lambda ms: len(ms) >= 4, handle)
            if drop == "browser":
                await first.cut()
            else:
                assert drop_connections(app) == 1
                await first.until(lambda ms: first.ended, handle)
        got = first.messages(handle)
        async with Downlink(client, first.token, {handle: got[-1].seq}) as second:
            rest = await second.finished(handle)
        return first.token, got, second, rest

    token, got, second, rest = run(go())
    assert second.resumed is True and second.token == token
    assert [m.seq for m in got] == list(range(1, len(got) + 1))
    last = got[-1].seq
    assert [m.seq for m in rest] == list(range(last + 1, 42)), "every message after the last seq, once, in order"
    assert props_values(got + rest) == list(range(1, 41))
    assert kinds(rest)[-1] == "done"


def test_a_run_publishing_while_the_reconnect_is_in_flight_loses_nothing():
    """The replay is read when the new response attaches, not when the request arrives: here an
    async after_request hook lets the run publish in between."""
    app = make_app(stream_resume_window=5)
    gate, armed = asyncio.Event(), []

    @app.server.after_request
    async def slow_hook(response):
        if request.path == "/_flash/downlink" and armed:
            gate.set()
            await asyncio.sleep(0.05)
        return response

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def gated(n, rows):
        yield stream_props("out", {"children": 1})
        await gate.wait()
        for i in (2, 3):
            yield stream_props("out", {"children": i})

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as first:
            handle = await first.start(gated.stream_id)
            await first.until(lambda ms: len(ms) >= 1, handle)
            armed.append(True)
            await first.cut()
        async with Downlink(client, first.token, {handle: 1}) as second:
            return await second.finished(handle)

    rest = run(go())
    assert [(m.event, m.seq) for m in rest] == [("props", 2), ("props", 3), ("done", 4)]


def test_a_finished_run_is_replayed_from_its_tail_not_run_again():
    app = make_app(stream_resume_window=5, stream_heartbeat=0.05)
    starts = []

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def short(n, rows):
        starts.append(n)
        for i in range(rows):
            yield stream_props("out", {"children": i})

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as first:
            handle = await first.start(short.stream_id)
            await first.finished(handle)
            await wait_until(lambda: len(app.stream_runs) == 0)
        # The browser lost everything after seq 1 in flight (and then its last message too).
        async with Downlink(client, first.token, {handle: 1}) as second:
            rest = await second.finished(handle)
        async with Downlink(client, first.token, {handle: 4}) as third:
            await third.heartbeats(1)  # whatever the opening held has arrived by now
        return rest, third.messages(), len(app.stream_runs)

    rest, nothing_missed, live = run(go())
    assert [(m.event, m.seq) for m in rest] == [("props", 2), ("props", 3), ("done", 4)]
    assert props_values(rest) == [1, 2]
    assert nothing_missed == [], "a run the browser saw to the end sends nothing, not `gone`"
    assert starts == [1], "the generator ran once"
    assert live == 0


def test_a_run_that_cannot_be_resumed_is_gone():
    app = make_app(stream_resume_window=0.2, stream_replay_size=2)
    closed = []

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def six_then_wait(n, rows):
        try:
            for i in range(6):
                yield stream_props("out", {"children": i})
            await asyncio.sleep(30)
        finally:
            closed.append(True)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as first:
            behind = await first.start(six_then_wait.stream_id)
            await first.until(lambda ms: len(ms) >= 6, behind)
            downlink_id = first.token.split(".")[0]
            _, unknown = app.stream_signer.new_run(downlink_id)  # well signed, never started
            # A newer response takes the downlink over (another reconnect of the same browser).
            async with Downlink(client, first.token, {behind: 1, unknown: 7}) as second:
                gone = await second.until(lambda ms: len(ms) >= 2)
                await wait_until(lambda: closed)
        return second.resumed, gone, behind, unknown, len(app.stream_runs)

    resumed, gone, behind, unknown, live = run(go())
    assert resumed is True
    assert sorted((m.event, m.run, m.seq, str(m.data)) for m in gone) == sorted(
        [("gone", run_id(behind), 1, "{}"), ("gone", run_id(unknown), 7, "{}")]
    )
    assert closed == [True] and live == 0, "a run too far behind to replay is closed; the page restarts it"


def test_an_expired_downlink_answers_gone_for_its_runs_on_a_new_downlink():
    app = make_app(stream_resume_window=0.1)

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def one(n, rows):
        yield stream_props("out", {"children": 1})

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as first:
            handle = await first.start(one.stream_id)
            await first.finished(handle)
        await wait_until(lambda: not app.stream_runs.downlinks)
        async with Downlink(client, first.token, {handle: 1}) as second:
            return first.token, second, await second.finished(handle)

    token, second, messages = run(go())
    assert second.resumed is False and second.token != token
    assert [(m.event, m.seq) for m in messages] == [("gone", 1)]


def test_a_downlink_without_a_response_closes_its_runs_after_the_resume_window():
    app = make_app(stream_resume_window=0.1)
    closed = []

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def forever(n, rows):
        try:
            while True:
                yield stream_props("out", {"children": "tick"})
                await asyncio.sleep(0.01)
        finally:
            closed.append(True)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            handles = [await downlink.start(forever.stream_id, n=n) for n in (1, 2)]
            for handle in handles:
                await downlink.until(lambda ms: len(ms) >= 2, handle)
            live = len(app.stream_runs)
            await downlink.cut()
        await wait_until(lambda: len(closed) == 2 and not app.stream_runs.downlinks)
        return live, len(app.stream_runs), dict(app.stream_runs.downlinks)

    live_before, live_after, downlinks = run(go())
    assert live_before == 2
    assert closed == [True, True] and live_after == 0 and downlinks == {}
