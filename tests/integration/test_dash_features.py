"""Dash's callback features behave in the browser exactly as they do on Dash.

Pattern matching, clientside callbacks, ctx, set_props, Patch, `running=`, prevent_initial_call,
allow_duplicate, no_update and PreventUpdate, each in sync and async callbacks where it matters.
"""

from __future__ import annotations

import asyncio
import threading
import urllib.request
from pathlib import Path

import dash
import pytest

from flash import (
    ALL,
    ALLSMALLER,
    MATCH,
    ClientsideFunction,
    Flash,
    Input,
    Output,
    Patch,
    State,
    clientside_callback,
    ctx,
    dcc,
    html,
    no_update,
    set_props,
)
from flash.exceptions import PreventUpdate
from flash.testing import FlashComposite

# Loopback requests never go through an HTTP(S)_PROXY from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.mark.browser
def test_pattern_matching_all_match_allsmaller(dash_duo_mp: FlashComposite) -> None:
    app = Flash(__name__)
    app.layout = html.Div([html.Button("add", id="add"), html.Div(id="rows"), html.Div(id="total")])

    @app.callback(Output("rows", "children"), Input("add", "n_clicks"), State("rows", "children"))
    async def add_row(n_clicks: int | None, rows: list | None) -> list:
        rows = rows or []
        i = len(rows)
        return rows + [
            html.Div(
                [
                    dcc.Input(id={"type": "num", "index": i}, value=i + 1, type="number"),
                    html.Span(id={"type": "double", "index": i}, className="double"),
                    html.Span(id={"type": "running", "index": i}, className="running"),
                ]
            )
        ]

    @app.callback(Output({"type": "double", "index": MATCH}, "children"), Input({"type": "num", "index": MATCH}, "value"))
    async def double(value: int) -> str:
        return f"x2={2 * int(value or 0)}"

    @app.callback(
        Output({"type": "running", "index": MATCH}, "children"),
        Input({"type": "num", "index": MATCH}, "value"),
        Input({"type": "num", "index": ALLSMALLER}, "value"),
    )
    def running_sum(value: int, smaller: list[int]) -> str:  # sync: runs in the thread pool
        return f"sum={int(value or 0) + sum(int(v or 0) for v in smaller)}"

    @app.callback(Output("total", "children"), Input({"type": "num", "index": ALL}, "value"))
    async def total(values: list[int]) -> str:
        return f"total={sum(int(v or 0) for v in values)} over {len(values)}"

    dash_duo_mp.start_server(app)
    dash_duo_mp.wait_for_text_to_equal("#total", "total=1 over 1")
    # One click at a time: like Dash, a newer request for a callback supersedes one in flight.
    dash_duo_mp.find_element("#add").click()
    dash_duo_mp.wait_for_text_to_equal("#total", "total=3 over 2")
    dash_duo_mp.find_element("#add").click()
    dash_duo_mp.wait_for_text_to_equal("#total", "total=6 over 3")

    def texts(selector: str) -> list[str]:
        return [e.text for e in dash_duo_mp.find_elements(selector)]

    dash_duo_mp.wait_for(lambda: texts(".double") == ["x2=2", "x2=4", "x2=6"])
    dash_duo_mp.wait_for(lambda: texts(".running") == ["sum=1", "sum=3", "sum=6"])

    field = dash_duo_mp.find_element('[id=\'{"index":1,"type":"num"}\']')
    field.send_keys("0")  # 2 -> 20
    dash_duo_mp.wait_for_text_to_equal("#total", "total=24 over 3")
    dash_duo_mp.wait_for(lambda: texts(".running") == ["sum=1", "sum=21", "sum=24"])
    assert texts(".double") == ["x2=2", "x2=40", "x2=6"]
    assert dash_duo_mp.get_logs() == []


CLIENTSIDE_JS = """
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    shout: {
        upper: function (value) { return (value || '').toUpperCase() + '!'; }
    }
});
"""


@pytest.mark.browser
def test_clientside_inline_and_assets_function(dash_duo_mp: FlashComposite, tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "clientside.js").write_text(CLIENTSIDE_JS)
    app = Flash(__name__, assets_folder=str(assets))
    app.layout = html.Div(
        [dcc.Input(id="text", value="hi"), html.Div(id="inline"), html.Div(id="from-file"), html.Div(id="server")]
    )
    app.clientside_callback(
        "function (value) { return 'inline: ' + value.split('').reverse().join(''); }",
        Output("inline", "children"),
        Input("text", "value"),
    )
    clientside_callback(
        ClientsideFunction(namespace="shout", function_name="upper"),
        Output("from-file", "children"),
        Input("text", "value"),
    )

    # A server callback downstream of a clientside one still fires.
    @app.callback(Output("server", "children"), Input("from-file", "children"))
    async def server_side(shouted: str) -> str:
        return f"server saw {shouted}"

    dash_duo_mp.start_server(app)
    dash_duo_mp.wait_for_text_to_equal("#inline", "inline: ih")
    dash_duo_mp.wait_for_text_to_equal("#from-file", "HI!")
    dash_duo_mp.wait_for_text_to_equal("#server", "server saw HI!")
    dash_duo_mp.find_element("#text").send_keys("ya")
    dash_duo_mp.wait_for_text_to_equal("#inline", "inline: ayih")
    dash_duo_mp.wait_for_text_to_equal("#server", "server saw HIYA!")
    assert dash_duo_mp.get_logs() == []


@pytest.mark.browser
def test_triggered_id_set_props_and_patch(dash_duo_mp: FlashComposite) -> None:
    app = Flash(__name__)
    app.layout = html.Div(
        [
            html.Button("a", id="btn-a"),
            html.Button("b", id="btn-b"),
            html.Button("item", id={"type": "item", "index": 7}),
            html.Div(id="which"),
            html.Div(id="sync-side"),
            html.Div(id="async-side"),
            html.Button("sync set_props", id="sync-set"),
            html.Button("async set_props", id="async-set"),
            html.Button("append", id="append"),
            html.Ul([html.Li("first")], id="list"),
            dcc.Store(id="store", data={"count": 0, "keep": "yes"}),
            html.Div(id="store-view"),
        ]
    )

    @app.callback(
        Output("which", "children"),
        Input("btn-a", "n_clicks"),
        Input("btn-b", "n_clicks"),
        Input({"type": "item", "index": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    async def which(a: int, b: int, items: list) -> str:
        trigger = ctx.triggered_id
        if isinstance(trigger, dict):
            return f"item {trigger['index']}"
        return f"button {trigger}"

    @app.callback(Output("sync-side", "children"), Input("sync-set", "n_clicks"), prevent_initial_call=True)
    def sync_set(n_clicks: int) -> str:
        set_props("async-side", {"children": f"set from sync {n_clicks}"})
        return f"sync returned {n_clicks}"

    @app.callback(
        Output("sync-side", "children", allow_duplicate=True),
        Input("async-set", "n_clicks"),
        prevent_initial_call=True,
    )
    async def async_set(n_clicks: int) -> str:
        await asyncio.sleep(0)
        set_props("async-side", {"children": f"set from async {n_clicks}"})
        return f"async returned {n_clicks}"

    @app.callback(
        Output("list", "children"),
        Output("store", "data"),
        Input("append", "n_clicks"),
        prevent_initial_call=True,
    )
    async def append(n_clicks: int) -> tuple[Patch, Patch]:
        items, data = Patch(), Patch()
        items.append(html.Li(f"added {n_clicks}"))
        data["count"] += 1
        return items, data

    @app.callback(Output("store-view", "children"), Input("store", "data"))
    def show_store(data: dict) -> str:
        return f"count={data['count']} keep={data['keep']}"

    duo = dash_duo_mp
    duo.start_server(app)
    item = '[id=\'{"index":7,"type":"item"}\']'
    for selector, expected in (("#btn-b", "button btn-b"), ("#btn-a", "button btn-a"), (item, "item 7")):
        duo.find_element(selector).click()
        duo.wait_for_text_to_equal("#which", expected)

    duo.find_element("#sync-set").click()
    duo.wait_for_text_to_equal("#async-side", "set from sync 1")
    duo.wait_for_text_to_equal("#sync-side", "sync returned 1")
    duo.find_element("#async-set").click()
    duo.wait_for_text_to_equal("#async-side", "set from async 1")
    duo.wait_for_text_to_equal("#sync-side", "async returned 1")

    duo.wait_for_text_to_equal("#store-view", "count=0 keep=yes")
    duo.find_element("#append").click()
    duo.wait_for_text_to_equal("#store-view", "count=1 keep=yes")
    duo.find_element("#append").click()
    duo.wait_for_text_to_equal("#store-view", "count=2 keep=yes")
    duo.wait_for(lambda: [li.text for li in duo.find_elements("#list li")] == ["first", "added 1", "added 2"])
    assert duo.get_logs() == []


@pytest.mark.browser
@pytest.mark.parametrize("kind", ["async", "sync"])
def test_running_sets_props_while_the_callback_runs(dash_duo_mp: FlashComposite, kind: str) -> None:
    """`running=` disables the button and shows a label only while the callback is in flight;
    the callback waits for the test to open a gate, so "in flight" is observed, not timed."""
    gate = threading.Event()
    app = Flash(__name__)
    app.layout = html.Div([html.Button("work", id="work"), html.Div("idle", id="status"), html.Div(id="result")])

    @app.server.route("/test/open-gate")
    async def open_gate() -> str:
        gate.set()
        return "open"

    running = [(Output("work", "disabled"), True, False), (Output("status", "children"), "working...", "idle")]
    decorate = app.callback(Output("result", "children"), Input("work", "n_clicks"), running=running, prevent_initial_call=True)

    if kind == "async":

        @decorate
        async def work(n_clicks: int) -> str:
            while not gate.is_set():
                await asyncio.sleep(0.05)
            return f"done {n_clicks}"
    else:

        @decorate
        def work(n_clicks: int) -> str:
            gate.wait(30)
            return f"done {n_clicks}"

    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#work").click()
    dash_duo_mp.wait_for_text_to_equal("#status", "working...")
    assert dash_duo_mp.find_element("#work").get_attribute("disabled") is not None
    assert dash_duo_mp.find_element("#result").text == ""
    with OPENER.open(dash_duo_mp.url_for("/test/open-gate"), timeout=5) as response:
        assert response.read() == b"open"
    dash_duo_mp.wait_for_text_to_equal("#result", "done 1")
    dash_duo_mp.wait_for_text_to_equal("#status", "idle")
    assert dash_duo_mp.find_element("#work").get_attribute("disabled") is None
    assert dash_duo_mp.get_logs() == []


@pytest.mark.browser
def test_prevent_initial_call_no_update_prevent_update_allow_duplicate(dash_duo_mp: FlashComposite) -> None:
    app = Flash(__name__)
    app.layout = html.Div(
        [
            dcc.Input(id="value", value="start"),
            html.Button("inc", id="inc"),
            html.Button("reset", id="reset"),
            html.Div("untouched", id="lazy"),
            html.Div("initial", id="eager"),
            html.Div("0", id="counter"),
            html.Div("-", id="parity"),
        ]
    )

    @app.callback(Output("lazy", "children"), Input("value", "value"), prevent_initial_call=True)
    async def lazy(value: str) -> str:
        return f"lazy {value}"

    @app.callback(Output("eager", "children"), Input("value", "value"))
    def eager(value: str) -> str:
        return f"eager {value}"

    @app.callback(
        Output("counter", "children"),
        Output("parity", "children"),
        Input("inc", "n_clicks"),
        State("counter", "children"),
        prevent_initial_call=True,
    )
    async def increment(n_clicks: int, current: str) -> tuple:
        value = int(current) + 1
        if value == 3:
            raise PreventUpdate  # the third click changes nothing
        # Parity only updates on even values; odd ones leave it as it was.
        return str(value), ("even" if value % 2 == 0 else no_update)

    @app.callback(Output("counter", "children", allow_duplicate=True), Input("reset", "n_clicks"), prevent_initial_call=True)
    def reset(n_clicks: int) -> str:
        return "0"

    duo = dash_duo_mp
    duo.start_server(app)
    duo.wait_for_text_to_equal("#eager", "eager start")
    assert duo.find_element("#lazy").text == "untouched"

    duo.find_element("#inc").click()
    duo.wait_for_text_to_equal("#counter", "1")
    assert duo.find_element("#parity").text == "-"  # no_update kept it
    duo.find_element("#inc").click()
    duo.wait_for_text_to_equal("#counter", "2")
    duo.wait_for_text_to_equal("#parity", "even")
    duo.find_element("#inc").click()  # PreventUpdate: nothing changes ...
    duo.find_element("#value").send_keys("!")  # ... and later updates still flow
    duo.wait_for_text_to_equal("#lazy", "lazy start!")
    duo.wait_for_text_to_equal("#eager", "eager start!")
    assert duo.find_element("#counter").text == "2"

    duo.find_element("#reset").click()  # a second callback writing the same output
    duo.wait_for_text_to_equal("#counter", "0")
    duo.find_element("#inc").click()
    duo.wait_for_text_to_equal("#counter", "1")
    assert duo.get_logs() == []


@pytest.mark.browser
@pytest.mark.skipif(not hasattr(dash, "remount"), reason="needs Dash 4.5 (compress_payload)")
def test_a_compressed_callback_payload_is_answered(dash_duo_mp: FlashComposite) -> None:
    """Dash 4.5's `compress_payload=True`: the renderer gzips the request body."""
    app = Flash(__name__)
    app.layout = html.Div([dcc.Input(id="text", value=""), html.Div(id="length")])

    @app.callback(
        Output("length", "children"),
        Input("text", "value"),
        prevent_initial_call=True,
        compress_payload=True,
        compress_threshold=0,
    )
    async def length(value: str) -> str:
        return f"{len(value)} characters"

    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#text").send_keys("compressed")
    dash_duo_mp.wait_for_text_to_equal("#length", "10 characters")


@pytest.mark.browser
def test_every_callback_without_inputs_or_outputs_runs(dash_duo_mp: FlashComposite) -> None:
    """Dash names such callbacks after the line that declares them (see
    tests/unit/test_caller_frames.py); under Flash they all got one name and only the last ran."""
    app = Flash(__name__)
    app.layout = html.Div([html.Div(id="first"), html.Div(id="second"), html.Div(id="third")])

    @app.callback()
    async def first() -> None:
        set_props("first", {"children": "first ran"})

    @app.callback()
    def second() -> None:
        set_props("second", {"children": "second ran"})

    @app.callback()
    async def third() -> None:
        set_props("third", {"children": "third ran"})

    dash_duo_mp.start_server(app)
    for name in ("first", "second", "third"):
        dash_duo_mp.wait_for_text_to_equal(f"#{name}", f"{name} ran")
    assert dash_duo_mp.get_logs() == []
