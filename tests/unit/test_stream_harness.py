"""The stream test harness (`flash.testing.streams`, fixture `flash_stream_client`): it runs an
app's streams through Flash's real routes in process and hands back each run's frames in order;
it cancels, drops and resumes like a page, and names values the ways a test wants to."""

import asyncio
import threading

import dash
import pytest

from flash import ALL, Flash, Input, Output, State, callback, ctx, event_callback, html, set_props, stream_props
from flash.testing.stream_frames import Frame, Frames
from flash.testing.streams import StreamClient, StreamRequestError, StreamTimeout
from tests.conftest import run


def make_app(**kwargs):
    app = Flash(__name__, **kwargs)
    app.layout = html.Div([html.Button(id="go"), html.Div(id="out"), html.Div(id="side"), html.Div(id="rows")])
    return app


def ticks_app(**kwargs):
    app = make_app(**kwargs)
    started = []

    @app.event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def ticks(n, rows):
        started.append((ctx.triggered_id, n, rows))
        for i in range(1, (rows or 3) + 1):
            yield stream_props("out", {"children": i})
            await asyncio.sleep(0.002)

    return app, ticks, started


def test_an_async_generator_runs_to_done_and_its_frames_come_back_in_order(flash_stream_client):
    app, ticks, started = ticks_app()

    async def go():
        async with flash_stream_client(app) as client:
            return await client.run(ticks, n=2, rows=4)

    frames = run(go())
    assert frames.events == ["props"] * 4 + ["done"]
    assert frames.seqs == [1, 2, 3, 4, 5]
    assert frames.values("out.children") == [1, 2, 3, 4] == frames.values("out", "children")
    assert frames.updates()[0] == {"out.children": 1} and frames.latest() == {"out.children": 4}
    assert frames.assert_complete() is frames and not frames.closed and frames.error is None
    assert started == [("go", 2, 4)], "ctx and the arguments are the page's"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # Flash (Quart) serves on asyncio
async def test_in_an_async_test_values_go_by_parameter_dependency_or_position(flash_stream_client):
    app, ticks, started = ticks_app()
    async with flash_stream_client(app) as client:
        await client.run(ticks, n=1, rows=1)
        await client.run(ticks, {"go.n_clicks": 2, ("rows", "children"): 1})
        await client.run(ticks, inputs=[3], state=[1])
        await client.run(ticks, inputs=[{"id": "go", "property": "n_clicks", "value": 4}], state=[1])
        await client.run(ticks.stream_id, rows=1)  # by id; anything not given is None
        await client.run("ticks", rows=1, triggered="rows.children")  # by name
        with pytest.raises(TypeError, match="no dependency or parameter 'nope'.*go.n_clicks, rows.children"):
            await client.start(ticks, nope=1)
        with pytest.raises(TypeError, match="rows.children is given twice"):
            await client.start(ticks, {"rows.children": 1}, rows=2)
        with pytest.raises(TypeError, match=r"state= takes 1 value\(s\)"):
            await client.start(ticks, state=[1, 2])
        with pytest.raises(LookupError, match="No single stream 'other'.*its streams: ticks"):
            await client.start("other")
    assert started == [("go", 1, 1), ("go", 2, 1), ("go", 3, 1), ("go", 4, 1), ("go", None, 1), ("rows", None, 1)]


def test_a_sync_generator_runs_in_a_thread_with_set_props(flash_stream_client):
    app = make_app()
    threads = []

    @app.event_callback(Input("go", "n_clicks"))
    def sync_gen(n):
        threads.append(threading.current_thread() is threading.main_thread())
        set_props("side", {"children": "via set_props"})
        yield stream_props("out", {"children": n})

    async def go():
        async with flash_stream_client(app) as client:
            return await client.run(sync_gen, n=7)

    frames = run(go())
    assert frames.updates() == [{"side.children": "via set_props", "out.children": 7}]
    assert frames.events[-1] == "done" and threads == [False]


def test_dict_ids_and_wildcards_take_dash_entries(flash_stream_client):
    app = make_app()
    seen = []

    @event_callback(Input({"type": "go", "index": 1}, "n_clicks"), State({"type": "row", "index": ALL}, "children"))
    async def pattern(n, rows):
        seen.append((ctx.triggered_id, n, rows))
        yield stream_props({"type": "out", "index": 1}, {"children": len(rows)})

    rows = [{"id": {"type": "row", "index": i}, "property": "children", "value": i} for i in (1, 2)]

    async def go():
        async with flash_stream_client(app) as client:
            return await client.run(pattern, n=5, rows=rows)

    frames = run(go())
    assert seen == [({"type": "go", "index": 1}, 5, [1, 2])]
    assert frames.values('{"index":1,"type":"out"}.children') == [2]


def test_a_streaming_callback_with_outputs_fills_them_per_yield(flash_stream_client):
    app = make_app()

    @callback(Output("out", "children"), Output("side", "children"), Input("go", "n_clicks"))
    async def progress(n):
        for i in range(2):
            yield f"{i}/2", n

    async def go():
        async with flash_stream_client(app) as client:
            return await client.run(progress, n=9)

    assert run(go()).updates() == [{"out.children": "0/2", "side.children": 9}, {"out.children": "1/2", "side.children": 9}]


@pytest.mark.skipif(not hasattr(dash, "BaseSharedStorage"), reason="needs Dash 4.5")
def test_a_dash_callback_async_generator_is_found_by_its_function(flash_stream_client):
    app = make_app()

    @dash.callback(dash.Output("out", "children"), dash.Input("go", "n_clicks"))
    async def dash_stream(n):
        for i in range(3):
            yield i

    async def go():
        async with flash_stream_client(app) as client:
            return await client.run(dash_stream, n=1)

    frames = run(go())
    assert frames.values("out.children") == [0, 1, 2] and frames.events[-1] == "done"


def test_cancel_closes_the_run_and_its_finally_runs(flash_stream_client):
    app = make_app()
    closed = []

    @app.event_callback(Input("go", "n_clicks"), reset_props=[("out", {"children": "reset"})])
    async def endless(n):
        i = 0
        try:
            while True:
                i += 1
                yield stream_props("out", {"children": i})
                await asyncio.sleep(0.005)
        finally:
            closed.append(i)

    async def go():
        async with flash_stream_client(app) as client:
            started = await client.start(endless)
            await started.until(3)
            frames = await started.cancel()
            return started, frames, await client.cancel(started)

    started, frames, again = run(go())
    assert frames.closed and frames.last.data == {"closed": True}
    frames.assert_complete()
    assert len(closed) == 1 and closed[0] >= 3
    assert again == {"closed": 0, "unknown": []}, "a second close finds nothing live"
    assert started.reset_props == [("out", {"children": "reset"})]


def test_a_dropped_downlink_resumes_with_exact_replay(flash_stream_client):
    app, ticks, started = ticks_app(stream_resume_window=5)

    async def go():
        async with flash_stream_client(app) as client:
            first = await client.start(ticks, rows=40)
            await first.until(5)
            await client.drop()
            before = first.frames
            resumed = await client.resume()
            return before, resumed, await first.finished()

    before, resumed, frames = run(go())
    assert resumed is True and 5 <= len(before) < 41
    assert frames[: len(before)] == before
    frames.assert_complete()
    assert frames.values("out.children") == list(range(1, 41)), "nothing lost, nothing repeated"
    assert len(started) == 1, "the generator ran once"


@pytest.mark.parametrize("debug", [False, True])
def test_an_error_ends_the_run_with_an_error_frame_after_on_errors_frame(flash_stream_client, debug):
    app = make_app()
    if debug:
        app.enable_dev_tools(debug=True, dev_tools_hot_reload=False)

    @app.event_callback(Input("go", "n_clicks"), on_error=lambda exc: stream_props("out", {"children": f"failed: {exc}"}))
    async def handled(n):
        yield stream_props("out", {"children": "before"})
        raise ValueError("database down")

    @app.event_callback(Input("go", "n_clicks"))
    async def unhandled(n):
        raise ValueError("no rows")
        yield

    async def go():
        async with flash_stream_client(app) as client:
            return await client.run(handled), await client.run(unhandled)

    with_handler, without = run(go())
    assert with_handler.events == ["props", "props", "error"]
    assert with_handler.values("out.children") == ["before", "failed: database down"]
    assert with_handler.error["handled"] is True and without.error["handled"] is False
    assert without.events == ["error"]
    if debug:
        assert "no rows" in without.error["message"] and "Traceback" in without.error["traceback"]
    else:
        assert without.error == {"stream": "unhandled", "message": "The stream failed.", "handled": False}


def test_a_refused_start_raises_with_the_status_and_a_slow_run_times_out(flash_stream_client):
    app = make_app(max_streams_per_client=1)

    @app.event_callback(Input("go", "n_clicks"))
    async def slow(n):
        yield stream_props("out", {"children": 1})
        await asyncio.Event().wait()

    async def go():
        async with flash_stream_client(app, timeout=0.5) as client:
            first = await client.start(slow)
            with pytest.raises(StreamRequestError) as refused:
                await client.start(slow)
            with pytest.raises(StreamTimeout, match="the condition"):
                await first.finished()
            return refused.value, first.frames

    refused, frames = run(go())
    assert refused.status == 429 and "max_streams_per_client" in refused.answer["error"]
    assert frames.events == ["props"]


def test_a_prefixed_app_is_served_under_its_prefix():
    app, ticks, _ = ticks_app(url_base_pathname="/dash/")

    async def go():
        async with StreamClient(app) as client:
            return await client.run(ticks, rows=2)

    assert run(go()).values("out.children") == [1, 2]


def test_the_fixture_closes_a_client_left_open_when_its_loop_can_still_run(flash_stream_client):
    app = make_app()
    closed = []

    @app.event_callback(Input("go", "n_clicks"))
    async def endless(n):
        try:
            while True:
                yield stream_props("out", {"children": 1})
                await asyncio.sleep(0.01)
        finally:
            closed.append(True)

    loop = asyncio.new_event_loop()
    try:
        client = flash_stream_client(app)
        loop.run_until_complete(client.start(endless))
        assert not closed
        client.close_leftover()  # what the fixture's teardown does
        assert closed == [True] and client.closed
    finally:
        loop.close()


def test_frames_assert_complete_fails_on_a_gap_a_repeat_or_a_missing_end():
    def frames(*pairs):
        return Frames(Frame(event, "r", seq, {}) for event, seq in pairs)

    frames(("props", 1), ("props", 2), ("done", 3)).assert_complete()
    for bad in (
        frames(("props", 1), ("done", 3)),
        frames(("props", 1), ("props", 1), ("done", 2)),
        frames(("props", 1), ("props", 2)),
        frames(("done", 1), ("props", 2)),
    ):
        with pytest.raises(AssertionError):
            bad.assert_complete()


def test_headers_reach_the_apps_hooks_and_a_refused_downlink_raises(flash_stream_client):
    """A `before_request` hook also moves the stream routes off the direct path onto Quart's."""
    from quart import request

    app, ticks, _ = ticks_app()

    @app.server.before_request
    async def login():
        if request.path.startswith("/_flash/") and request.headers.get("Authorization") != "Bearer yes":
            return {"error": "log in"}, 401
        return None

    async def go():
        with pytest.raises(StreamRequestError) as refused:
            async with StreamClient(app):
                pass
        async with flash_stream_client(app, headers={"Authorization": "Bearer yes"}) as client:
            return refused.value, await client.run(ticks, rows=2)

    refused, frames = run(go())
    assert refused.status == 401 and refused.answer == {"error": "log in"}
    assert frames.values("out.children") == [1, 2]
