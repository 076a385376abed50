"""The stream routes in-process: one downlink carries each run's numbered messages in order;
ctx, threads, set_props, errors, close, several runs at once, heartbeats and memory.
(Resuming is in test_resume.py, bad input and handles in test_downlink_security.py.)"""

import asyncio
import gc
import threading
import weakref

import pytest

from flash import Input, State, ctx, event_callback, html, set_props, stream_props
from flash.testing.streams import StreamClient
from tests.conftest import run
from tests.streaming.downlink_client import Downlink, make_app, props_values, run_id, setup, wait_until


def kinds(messages):
    return [m.event for m in messages]


def test_a_run_sends_numbered_updates_in_order_then_done():
    app = make_app()

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def count(n, rows):
        yield stream_props("out", {"children": f"start by {ctx.triggered_id} n={n}"})
        for i in range(rows):
            await asyncio.sleep(0)
            yield stream_props([("out", {"children": i})])

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            handle = await downlink.start(count.stream_id)
            messages = await downlink.finished(handle)
            await wait_until(lambda: len(app.stream_runs) == 0)
            return downlink, handle, messages, len(app.stream_runs)

    downlink, handle, messages, live = run(go())
    assert downlink.resumed is False and downlink.token.count(".") == 1
    assert handle.count(".") == 1 and handle != downlink.token
    assert kinds(messages) == ["props", "props", "props", "props", "done"]
    assert {m.run for m in messages} == {run_id(handle)}
    assert [m.seq for m in messages] == [1, 2, 3, 4, 5]
    assert messages[0].data == [["out", {"children": "start by go n=1"}]]
    assert props_values(messages[1:]) == [0, 1, 2]
    assert messages[-1].data == {}
    assert live == 0


def test_sync_generator_runs_in_a_thread_and_set_props_is_streamed():
    app = make_app()
    threads = []

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    def sync_gen(n, rows):
        threads.append(threading.current_thread() is threading.main_thread())
        set_props("side", {"children": "via set_props"})
        yield stream_props("out", {"children": f"{ctx.triggered_id}"})
        set_props("side", {"children": "after the last yield"})

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            return await downlink.finished(await downlink.start(sync_gen.stream_id))

    messages = run(go())
    assert kinds(messages) == ["props", "props", "done"]
    assert messages[0].data == [["side", {"children": "via set_props"}], ["out", {"children": "go"}]]
    assert messages[1].data == [["side", {"children": "after the last yield"}]]
    assert threads == [False]


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("with_on_error", [True, False])
def test_errors_call_on_error_then_send_an_error_event(debug, with_on_error):
    app = make_app()
    if debug:
        app.enable_dev_tools(debug=True, dev_tools_hot_reload=False)
    errors = []

    def on_error(exc):
        errors.append(exc)
        return stream_props("out", {"children": f"Failed: {exc}"})

    @event_callback(Input("go", "n_clicks"), State("rows", "children"), on_error=on_error if with_on_error else None)
    async def breaks(n, rows):
        yield stream_props("out", {"children": "before"})
        raise ValueError("database down")

    async def go():
        async with StreamClient(app) as client:
            return await client.run(breaks)

    frames = run(go())
    if with_on_error:
        assert frames.events == ["props", "props", "error"]
        assert frames.values("out.children") == ["before", "Failed: database down"]
        assert isinstance(errors[0], ValueError)
    else:
        assert frames.events == ["props", "error"]
    body = frames.error
    if debug:
        assert body["stream"] == "breaks" and body["handled"] is with_on_error
        assert "database down" in body["message"] and "Traceback" in body["traceback"]
    else:
        assert body == {"stream": "breaks", "message": "The stream failed.", "handled": with_on_error}


def test_close_stops_the_generator_at_once_and_the_response_gets_done_closed():
    app = make_app()
    closed = []

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def endless(n, rows):
        try:
            i = 0
            while True:
                i += 1
                yield stream_props("out", {"children": i})
                await asyncio.sleep(0.01)
        finally:
            closed.append(True)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            handle = await downlink.start(endless.stream_id)
            await downlink.until(lambda ms: len(ms) >= 3, handle)
            live_before = len(app.stream_runs)
            answer = await downlink.close(handle)
            # The open response ends the run with a final event instead of idling on heartbeats.
            messages = await downlink.finished(handle)
            await wait_until(lambda: closed)
            again = await downlink.close(handle)
            return live_before, answer, len(app.stream_runs), messages, again

    live_before, answer, live_after, messages, again = run(go())
    assert live_before == 1 and answer == (200, {"closed": 1, "unknown": []})
    assert closed == [True] and live_after == 0
    assert messages[-1].event == "done" and messages[-1].data == {"closed": True}
    assert [m.seq for m in messages] == list(range(1, len(messages) + 1))
    assert again == (200, {"closed": 0, "unknown": []}), "a finished run is not closed twice"


def test_several_runs_share_one_downlink_each_in_order():
    app = make_app()

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def rows_of(n, rows):
        for i in range(rows):
            await asyncio.sleep(0)
            yield stream_props("out", {"children": f"{n}:{i}"})

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            handles = [await downlink.start(rows_of.stream_id, n=n, rows=n + 2) for n in (1, 2, 3)]
            for handle in handles:
                await downlink.finished(handle)
            return handles, downlink

    handles, downlink = run(go())
    assert len(set(handles)) == 3
    assert len(app.stream_runs.downlinks) == 1
    for n, handle in zip((1, 2, 3), handles):
        mine = downlink.messages(handle)
        assert [m.seq for m in mine] == list(range(1, n + 4))
        assert props_values(mine) == [f"{n}:{i}" for i in range(n + 2)] and mine[-1].event == "done"
    assert {m.run for m in downlink.messages()} == {run_id(h) for h in handles}


def test_heartbeats_flow_on_an_idle_downlink():
    app = make_app(stream_heartbeat=0.05)

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def idle(n, rows):
        yield stream_props("out", {"children": "hello"})
        await asyncio.sleep(10)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            empty = await downlink.heartbeats(2)
            handle = await downlink.start(idle.stream_id)
            await downlink.until(lambda ms: len(ms) >= 1, handle)
            return empty, await downlink.heartbeats(empty + 2), kinds(downlink.messages())

    empty, later, seen = run(go())
    assert empty >= 2 and later >= empty + 2
    assert seen == ["props"], "heartbeats are comments, not events"


def test_an_idle_run_keeps_only_the_encoded_message_not_the_values_behind_it():
    app = make_app()
    refs = []

    def big_value():
        value = html.Ul([html.Li(str(i)) for i in range(100)])
        refs.append(weakref.ref(value))
        return value

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def idler(n, rows):
        yield stream_props("out", {"children": big_value()})
        await asyncio.sleep(10)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            messages = await downlink.until(lambda ms: len(ms) >= 1, await downlink.start(idler.stream_id))
            await asyncio.sleep(0.05)
            gc.collect()
            return messages, downlink.raw, [ref() is None for ref in refs], len(app.stream_runs)

    messages, raw, released, live = run(go())
    assert kinds(messages) == ["props"] and live == 1
    assert b'"99"' in raw  # the value was sent whole
    assert released == [True]
