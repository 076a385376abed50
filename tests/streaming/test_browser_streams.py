"""Streams in Chromium: progressive updates, endless graphs, AG Grid, callbacks alongside, ids, ctx."""

from __future__ import annotations

import asyncio
import time

import dash_ag_grid as dag
import pytest

from flash import (
    ALL,
    Flash,
    Input,
    Output,
    Patch,
    State,
    callback,
    ctx,
    dcc,
    event_callback,
    html,
    stream_props,
)
from tests.streaming.probe import Probe, running, texts

pytestmark = pytest.mark.browser

POINTS_JS = "var gd = document.querySelector('#graph .js-plotly-plot'); return gd && gd.data ? gd.data[0].x : null;"


def appended(text: str) -> Patch:
    items = Patch()
    items.append(html.Li(text))
    return items


def test_updates_show_one_by_one_in_order(dash_duo_mp):
    app = Flash(__name__)
    app.layout = html.Div([html.Button("start", id="start"), html.Ul(id="items", children=[]), html.Div("idle", id="status")])
    probe = Probe(app)

    @event_callback(Input("start", "n_clicks"))
    async def fill(n_clicks):
        yield stream_props("status", {"children": "running"})
        for i in range(1, 11):
            if i == 6:
                await probe.gate("second-half").wait()  # the test looks at the page in between
            yield stream_props("items", {"children": appended(f"item {i}")})
            await asyncio.sleep(0.01)
        yield stream_props("status", {"children": "done"})

    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#start").click()
    dash_duo_mp.wait_for_text_to_equal("#items li:nth-child(5)", "item 5")
    assert texts(dash_duo_mp, "#items li") == [f"item {i}" for i in range(1, 6)]
    assert dash_duo_mp.find_element("#status").text == "running"
    assert probe.state(dash_duo_mp)["live"] == 1

    probe.release(dash_duo_mp, "second-half")
    dash_duo_mp.wait_for_text_to_equal("#status", "done")
    assert texts(dash_duo_mp, "#items li") == [f"item {i}" for i in range(1, 11)]
    probe.wait_state(dash_duo_mp, lambda s: s["live"] == 0, "the finished run is gone")
    assert running(dash_duo_mp) == []
    assert dash_duo_mp.get_logs() == []


def test_endless_extend_data_keeps_growing_without_losing_points(dash_duo_mp):
    app = Flash(__name__)
    app.layout = html.Div(
        [
            html.Button("start", id="start"),
            html.Div(id="price"),
            dcc.Graph(id="graph", figure={"data": [{"x": [], "y": [], "type": "scatter"}]}),
        ]
    )

    @event_callback(Input("start", "n_clicks"))
    async def ticker(n_clicks):
        i = 0
        while True:
            i += 1
            yield stream_props([("graph", {"extendData": [{"x": [[i]], "y": [[i % 7]]}, [0]]}), ("price", {"children": str(i)})])
            await asyncio.sleep(0.05)

    dash_duo_mp.start_server(app)
    dash_duo_mp.wait_for_element("#graph .main-svg")  # plotly is loaded before the stream starts
    dash_duo_mp.find_element("#start").click()

    def points_beyond(count):
        def check():
            points = dash_duo_mp.driver.execute_script(POINTS_JS)
            return points if points and len(points) > count else None

        return dash_duo_mp.wait_for(check, timeout=10, msg=f"more than {count} points")

    first = points_beyond(5)
    second = points_beyond(len(first) + 20)
    third = points_beyond(len(second) + 20)
    # Every extendData reached the graph, in order: none was merged away within a frame. (A point
    # may show twice: dcc.Graph re-applies a pending extendData if the next one arrives before
    # Plotly finished drawing it - its own race, the same under Dash callbacks.)
    assert third == sorted(third)
    assert sorted(set(third)) == list(range(1, third[-1] + 1))
    assert int(dash_duo_mp.find_element("#price").text) >= third[-1]
    assert len(running(dash_duo_mp)) == 1


def test_normal_callbacks_answer_while_streams_run(dash_duo_mp):
    app = Flash(__name__)
    app.layout = html.Div(
        [
            html.Button("start", id="start"),
            html.Div(id="tick"),
            html.Button("async", id="async-btn"),
            html.Div(id="async-out"),
            html.Button("sync", id="sync-btn"),
            html.Div(id="sync-out"),
            html.Ul(id="held", children=[]),
        ]
    )
    probe = Probe(app)

    @event_callback(Input("start", "n_clicks"))
    async def ticks(n_clicks):
        i = 0
        while True:
            i += 1
            yield stream_props("tick", {"children": str(i)})
            await asyncio.sleep(0.02)

    @event_callback(Input("start", "n_clicks"))
    async def held(n_clicks):
        yield stream_props("held", {"children": appended("waiting")})
        await probe.gate("held").wait()  # a stream parked on the server
        yield stream_props("held", {"children": appended("released")})

    @app.callback(Output("async-out", "children"), Input("async-btn", "n_clicks"), prevent_initial_call=True)
    async def on_async(n_clicks):
        await asyncio.sleep(0.01)
        return f"async {n_clicks}"

    @app.callback(Output("sync-out", "children"), Input("sync-btn", "n_clicks"), prevent_initial_call=True)
    def on_sync(n_clicks):
        time.sleep(0.01)
        return f"sync {n_clicks}"

    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#start").click()
    dash_duo_mp.wait_for_text_to_equal("#held li", "waiting")
    probe.wait_state(dash_duo_mp, lambda s: s["live"] == 2, "both streams run")
    for n in (1, 2, 3):
        dash_duo_mp.find_element("#async-btn").click()
        dash_duo_mp.wait_for_text_to_equal("#async-out", f"async {n}")
        dash_duo_mp.find_element("#sync-btn").click()
        dash_duo_mp.wait_for_text_to_equal("#sync-out", f"sync {n}")
    seen = int(dash_duo_mp.find_element("#tick").text)
    dash_duo_mp.wait_for(lambda: int(dash_duo_mp.find_element("#tick").text) > seen + 5, msg="the ticker goes on")
    probe.release(dash_duo_mp, "held")
    dash_duo_mp.wait_for(lambda: texts(dash_duo_mp, "#held li") == ["waiting", "released"], msg="held stream ends")
    assert len(running(dash_duo_mp)) == 1  # the endless ticker
    assert dash_duo_mp.get_logs() == []


def test_rows_stream_into_ag_grid(dash_duo_mp):
    app = Flash(__name__)
    columns = [{"field": "id"}, {"field": "name"}]
    app.layout = html.Div(
        [
            html.Button("load", id="load"),
            dag.AgGrid(id="grid", columnDefs=columns, rowData=[], getRowId="params.data.id"),
            html.Div(id="status"),
        ]
    )

    @event_callback(Input("load", "n_clicks"), State("grid", "columnDefs"))
    async def load(n_clicks, column_defs):
        rows = [{"id": i, "name": f"row {i}"} for i in range(500)]
        yield stream_props("grid", {"rowData": rows[:50]})
        for start in range(50, 500, 50):
            await asyncio.sleep(0.01)  # chunks faster than frames: none may be lost
            yield stream_props("grid", {"rowTransaction": {"add": rows[start : start + 50]}})
            yield stream_props("status", {"children": f"{start + 50} rows"})

    dash_duo_mp.start_server(app)
    dash_duo_mp.wait_for_element("#grid .ag-root")
    dash_duo_mp.find_element("#load").click()
    dash_duo_mp.wait_for_text_to_equal("#status", "500 rows")

    def grid_rows():
        return dash_duo_mp.driver.execute_script(
            "var api = window.dash_ag_grid.getApi('grid'); var ids = [];"
            " api.forEachNode(function (n) { ids.push(n.data.id); }); return ids;"
        )

    dash_duo_mp.wait_for(lambda: len(grid_rows()) == 500, msg="500 rows in the grid")
    assert grid_rows() == list(range(500))
    dash_duo_mp.wait_for_text_to_equal("#grid .ag-row[row-index='0'] .ag-cell[col-id='name']", "row 0")


def test_dict_ids_sync_generator_and_triggered_id(dash_duo_mp):
    app = Flash(__name__)
    app.layout = html.Div(
        [html.Button(f"b{i}", id={"type": "btn", "index": i}) for i in range(3)]
        + [html.Div(id={"type": "out", "index": i}) for i in range(3)]
        + [html.Div(id="thread")]
    )

    @event_callback(Input({"type": "btn", "index": ALL}, "n_clicks"))
    def on_click(clicks):  # a sync generator: it runs in the thread pool
        index = ctx.triggered_id["index"]
        for step in ("start", "end"):
            time.sleep(0.01)
            yield stream_props(
                [({"type": "out", "index": index}, {"children": f"{step} {ctx.triggered_id['type']}-{index} {clicks}"})]
            )
        yield stream_props("thread", {"children": f"thread {index}"})

    dash_duo_mp.start_server(app)
    buttons = dash_duo_mp.find_elements("button")
    buttons[2].click()
    dash_duo_mp.wait_for_text_to_equal("#thread", "thread 2")
    assert texts(dash_duo_mp, "div[id*='out']") == ["", "", "end btn-2 [None, None, 1]"]
    buttons[0].click()
    dash_duo_mp.wait_for_text_to_equal("#thread", "thread 0")
    assert texts(dash_duo_mp, "div[id*='out']") == ["end btn-0 [1, None, 1]", "", "end btn-2 [None, None, 1]"]
    assert dash_duo_mp.get_logs() == []


def test_callback_on_an_output_less_async_generator_streams(dash_duo_mp):
    app = Flash(__name__)
    app.layout = html.Div([dcc.Input(id="word", value="flash"), html.Button("go", id="go"), html.Div(id="out")])

    @callback(Input("go", "n_clicks"), State("word", "value"))
    async def spell(n_clicks, word):
        for i in range(1, len(word) + 1):
            await asyncio.sleep(0.01)
            yield stream_props("out", {"children": f"{ctx.triggered_id}: {word[:i]}"})

    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#go").click()
    dash_duo_mp.wait_for_text_to_equal("#out", "go: flash")
    assert running(dash_duo_mp) == []


@pytest.mark.browser
def test_a_start_button_that_appears_later_does_not_start_the_stream(dash_duo_mp):
    """Dash fires callbacks once when their inputs are inserted; with prevent_initial_call the
    stream must wait for a real click."""
    from flash import Input, Output, event_callback, html, stream_props

    app = Flash(__name__, suppress_callback_exceptions=True)
    probe = Probe(app)
    app.layout = html.Div([html.Button("Show", id="show"), html.Div(id="slot"), html.Div("idle", id="status")])

    @app.callback(Output("slot", "children"), Input("show", "n_clicks"), prevent_initial_call=True)
    def show(_):
        return html.Button("Start", id="late-start")

    @event_callback(Input("late-start", "n_clicks"))
    async def late(n_clicks):
        probe.count("started")
        yield stream_props("status", {"children": f"started by click {n_clicks}"})

    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#show").click()
    dash_duo_mp.wait_for_element("#late-start")
    # A normal callback round trip after the insertion: had the trigger fired, it would be done.
    dash_duo_mp.find_element("#show").click()
    dash_duo_mp.wait_for_element("#late-start")
    assert probe.state(dash_duo_mp).get("started", 0) == 0
    assert dash_duo_mp.find_element("#status").text == "idle"
    dash_duo_mp.find_element("#late-start").click()
    dash_duo_mp.wait_for_text_to_equal("#status", "started by click 1")
    assert probe.state(dash_duo_mp)["started"] == 1


COALESCE_CASES_JS = """
var P = function (ops) { return {__dash_patch_update: '__dash_patch_update', operations: ops}; };
var c = window.dash_clientside._flash.coalesce;
return {
  patches: c([['a', {children: P([1])}], ['a', {children: P([2, 3])}], ['b', {children: P([4])}]]),
  plainThenPatch: c([['a', {children: 'x'}], ['a', {children: P([1])}], ['a', {children: P([2])}]]),
  patchThenPlain: c([['a', {children: P([1])}], ['a', {children: 'y', title: 't'}]]),
  otherProps: c([['a', {children: P([1])}], ['a', {title: 't'}], ['a', {children: P([2])}]])
};
"""


def test_patches_for_one_prop_in_a_frame_merge_into_one_in_order(dash_duo_mp):
    app = Flash(__name__)
    app.layout = html.Div([html.Button("start", id="start"), html.Div(id="tokens", children=[]), html.Div("idle", id="status")])

    @event_callback(Input("start", "n_clicks"))
    async def tokens(n_clicks):
        for i in range(300):
            patch = Patch()
            patch.append(f"{i} ")
            yield stream_props("tokens", {"children": patch})  # back to back: many per frame
        yield stream_props("status", {"children": "done"})

    duo = dash_duo_mp
    duo.start_server(app)
    cases = duo.driver.execute_script(COALESCE_CASES_JS)
    patch = lambda ops: {"__dash_patch_update": "__dash_patch_update", "operations": ops}  # noqa: E731
    assert cases["patches"] == [["a", {"children": patch([1, 2, 3])}], ["b", {"children": patch([4])}]]
    assert cases["plainThenPatch"] == [["a", {"children": "x"}], ["a", {"children": patch([1, 2])}]]
    assert cases["patchThenPlain"] == [["a", {"children": "y", "title": "t"}]]
    assert cases["otherProps"] == [["a", {"children": patch([1, 2]), "title": "t"}]]

    duo.driver.execute_script(
        "window.__setPropsCalls = 0; var original = window.dash_clientside.set_props;"
        "window.dash_clientside.set_props = function (id, props) {"
        "  if (id === 'tokens') { window.__setPropsCalls += 1; } return original(id, props); };"
    )
    duo.find_element("#start").click()
    duo.wait_for_text_to_equal("#status", "done", timeout=15)
    assert duo.find_element("#tokens").text.split() == [str(i) for i in range(300)]
    calls = duo.driver.execute_script("return window.__setPropsCalls;")
    assert 1 <= calls < 300  # appends that arrived together were applied as one Patch
    assert duo.get_logs() == []
