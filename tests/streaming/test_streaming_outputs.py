"""Dash 4.5 streaming callbacks: `@callback` / `app.callback` on a generator with Outputs streams
each yield as a return value over the downlink; without Outputs it is an event callback."""

import asyncio
import threading

import pytest

from flash import Input, Output, State, callback, ctx, no_update, set_props, stream_props
from flash.exceptions import PreventUpdate
from flash.testing.streams import StreamClient
from tests.conftest import callback_body, dep, run
from tests.streaming.downlink_client import make_app, setup


def stream(app, target, debug=False, **values):
    """(event, data) of each frame of one run of `target` (values by parameter name)."""
    if debug:
        app.enable_dev_tools(debug=True, dev_tools_hot_reload=False)

    async def go():
        async with StreamClient(app) as client:
            return await client.run(target, **values)

    return [(frame.event, frame.data) for frame in run(go())]


def test_one_output_each_yield_is_the_return_value():
    app = make_app()

    @callback(Output("out", "children"), Input("go", "n_clicks"), State("rows", "children"))
    async def progress(n, rows):
        for i in range(rows):
            await asyncio.sleep(0)
            yield f"{ctx.triggered_id}:{n}:{i}"

    assert isinstance(progress.stream_id, str) and progress.stream_id
    events = stream(app, progress, n=4, rows=2)
    assert app.streams[progress.stream_id].outputs == [("out", "children")]
    assert events == [("props", [["out", {"children": "go:4:0"}]]), ("props", [["out", {"children": "go:4:1"}]]), ("done", {})]


def test_a_list_of_outputs_takes_a_list_per_yield_and_no_update_skips():
    app = make_app()

    @app.callback([Output("out", "children"), Output("out", "title"), Output("side", "children")], Input("go", "n_clicks"))
    async def several(n):
        yield "a", "b", "c"
        yield [no_update, "only title", no_update]
        yield no_update  # nothing at all this time
        yield (no_update, no_update, "side only")

    events = stream(app, several, n=1)
    assert events == [
        ("props", [["out", {"children": "a", "title": "b"}], ["side", {"children": "c"}]]),
        ("props", [["out", {"title": "only title"}]]),
        ("props", [["side", {"children": "side only"}]]),
        ("done", {}),
    ]


def test_no_update_on_a_single_output_sends_nothing():
    app = make_app()

    @callback(Output("out", "children"), Input("go", "n_clicks"))
    async def sparse(n):
        yield no_update
        yield "seen"
        yield no_update

    assert stream(app, sparse) == [("props", [["out", {"children": "seen"}]]), ("done", {})]


@pytest.mark.parametrize("debug", [False, True])
def test_a_yield_of_the_wrong_shape_ends_the_run_with_an_error(debug):
    app = make_app()

    @callback([Output("out", "children"), Output("side", "children")], Input("go", "n_clicks"))
    async def misshapen(n):
        yield 1, 2
        yield "just one value"
        yield 3, 4  # never reached

    events = stream(app, misshapen, debug=debug)
    assert [kind for kind, _ in events] == ["props", "error"]
    assert events[0][1] == [["out", {"children": 1}], ["side", {"children": 2}]]
    error = events[1][1]
    assert error["stream"] == "misshapen" and error["handled"] is False
    if debug:
        assert "declares 2 Outputs" in error["message"] and "Traceback" in error["traceback"]
    else:
        assert error == {"stream": "misshapen", "message": "The stream failed.", "handled": False}


def test_prevent_update_ends_a_streaming_callback_cleanly():
    app = make_app()

    @callback(Output("out", "children"), Input("go", "n_clicks"))
    async def stops(n):
        yield "first"
        raise PreventUpdate

    assert stream(app, stops) == [("props", [["out", {"children": "first"}]]), ("done", {})]


def test_a_sync_generator_with_outputs_runs_in_a_thread():
    app = make_app()
    threads = []

    @callback(Output("out", "children"), Input("go", "n_clicks"), State("rows", "children"))
    def counting(n, rows):
        for i in range(rows):
            threads.append(threading.current_thread() is threading.main_thread())
            set_props("side", {"children": f"step {i}"})
            yield i

    events = stream(app, counting, rows=2)
    assert events == [
        ("props", [["side", {"children": "step 0"}], ["out", {"children": 0}]]),
        ("props", [["side", {"children": "step 1"}], ["out", {"children": 1}]]),
        ("done", {}),
    ]
    assert threads == [False, False]


def test_app_callback_on_an_output_less_generator_is_an_event_callback():
    app = make_app()

    @app.callback(Input("go", "n_clicks"), State("rows", "children"))
    async def events_only(n, rows):
        yield stream_props("out", {"children": n})
        yield stream_props([("side", {"children": rows}), ("out", {"title": "t"})])

    events = stream(app, events_only, n=7, rows=2)
    assert app.streams[events_only.stream_id].outputs is None
    assert events == [
        ("props", [["out", {"children": 7}]]),
        ("props", [["side", {"children": 2}], ["out", {"title": "t"}]]),
        ("done", {}),
    ]


def test_a_streaming_callback_is_not_a_dash_callback_and_plain_ones_still_are():
    app = make_app()

    @app.callback(Output("out", "children"), Input("go", "n_clicks"))
    async def streamed(n):
        yield n

    @app.callback(Output("side", "children"), Input("go", "n_clicks"))
    async def plain(n):
        return f"plain {n}"

    async def go():
        client = app.server.test_client()
        await setup(client)
        response = await client.post("/_dash-update-component", json=callback_body("side.children", [dep("go", "n_clicks", 3)]))
        return response.status_code, await response.get_json()

    status, answer = run(go())
    assert status == 200 and answer["response"] == {"side": {"children": "plain 3"}}
    assert "out.children" not in app.callback_map and streamed.stream_id in app.streams
    assert not hasattr(plain, "stream_id")


def test_the_same_callback_declared_twice_is_one_stream():
    """A module imported twice (or two app builds in one process) must not start a stream twice."""
    from flash import Flash, Input, event_callback, html, stream_props

    app = Flash(__name__)
    app.layout = html.Div([html.Button(id="go"), html.Div(id="out")])

    def declare():
        async def twice(n):
            yield stream_props("out", {"children": n})

        return event_callback(Input("go", "n_clicks"))(twice)

    first, second = declare(), declare()
    assert first.stream_id == second.stream_id

    async def go():
        client = app.server.test_client()
        await client.get("/")
        layout = await (await client.get("/_dash-layout")).get_json()
        return layout

    import asyncio
    import json

    layout = json.dumps(asyncio.run(go()))
    assert layout.count(f"_flash/stream/{first.stream_id}") == 1
    assert list(app.streams) == [first.stream_id]
