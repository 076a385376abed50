"""Dash 4.5's streaming callbacks in Chromium: `@callback` with Outputs on a generator streams
each yield as a return value, over the same shared downlink as event callbacks."""

from __future__ import annotations

import asyncio
import threading
import time

import dash
import pytest

from flash import Flash, Input, Output, Patch, State, callback, dcc, html, no_update
from tests.streaming.probe import Probe, texts

pytestmark = pytest.mark.browser


def test_an_async_generator_callback_streams_each_yield_to_its_outputs(dash_duo_mp):
    app = Flash(__name__)
    app.layout = html.Div(
        [
            html.Button("go", id="go"),
            dcc.Input(id="topic", value="llm"),
            html.Div("Ready", id="status"),
            html.Ul(id="tokens", children=[]),
            html.Div(id="echo"),
        ]
    )
    probe = Probe(app)

    @callback(
        Output("status", "children"),
        Output("tokens", "children"),
        Input("go", "n_clicks"),
        State("topic", "value"),
        prevent_initial_call=True,
    )
    async def answer(n_clicks, topic):
        yield f"Thinking about {topic}...", []
        for word in ("one", "two", "three"):
            await probe.gate(f"{word}-{n_clicks}").wait()
            tokens = Patch()
            tokens.append(html.Li(word))
            yield no_update, tokens  # only the list changes
        yield "Done", no_update

    # A downstream callback fires on each streamed value, as after a normal callback.
    @app.callback(Output("echo", "children"), Input("status", "children"), prevent_initial_call=True)
    def echo(status):
        return f"echo: {status}"

    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#go").click()
    dash_duo_mp.wait_for_text_to_equal("#status", "Thinking about llm...")
    dash_duo_mp.wait_for_text_to_equal("#echo", "echo: Thinking about llm...")
    for i, word in enumerate(("one", "two", "three"), start=1):
        probe.release(dash_duo_mp, f"{word}-1")
        dash_duo_mp.wait_for_text_to_equal(f"#tokens li:nth-child({i})", word)
        if i < 3:  # no_update kept the status while tokens arrived
            assert dash_duo_mp.find_element("#status").text == "Thinking about llm..."
    dash_duo_mp.wait_for_text_to_equal("#status", "Done")
    assert texts(dash_duo_mp, "#tokens li") == ["one", "two", "three"]
    dash_duo_mp.wait_for_text_to_equal("#echo", "echo: Done")
    probe.wait_state(dash_duo_mp, lambda s: s["live"] == 0, "the run finished")
    assert dash_duo_mp.get_logs() == []


def test_a_sync_generator_callback_streams_from_the_thread_pool(dash_duo_mp):
    app = Flash(__name__)
    app.layout = html.Div(
        [html.Button("go", id="go"), html.Div(id="progress"), html.Button("ping", id="ping"), html.Div(id="pong")]
    )
    probe = Probe(app)

    @callback(Output("progress", "children"), Input("go", "n_clicks"), prevent_initial_call=True)
    def work(n_clicks):
        for pct in (25, 50, 75, 100):
            if threading.current_thread() is threading.main_thread():
                raise RuntimeError("a sync generator must step in the thread pool")
            while not probe.gate(f"step-{pct}").is_set():
                time.sleep(0.01)  # blocking work: the loop keeps serving other requests
            yield f"{pct}%"

    @callback(Output("pong", "children"), Input("ping", "n_clicks"), prevent_initial_call=True)
    async def pong(n_clicks):
        return f"pong {n_clicks}"

    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#go").click()
    dash_duo_mp.find_element("#ping").click()  # answered while the generator blocks its thread
    dash_duo_mp.wait_for_text_to_equal("#pong", "pong 1")
    for pct in (25, 50, 75, 100):
        probe.release(dash_duo_mp, f"step-{pct}")
        dash_duo_mp.wait_for_text_to_equal("#progress", f"{pct}%")
    assert dash_duo_mp.get_logs() == []


def test_app_callback_without_outputs_on_a_generator_is_an_event_callback(dash_duo_mp):
    from flash import stream_props

    app = Flash(__name__)
    app.layout = html.Div([html.Button("go", id="go"), html.Div(id="a"), html.Div(id="b")])

    @app.callback(Input("go", "n_clicks"), prevent_initial_call=True)
    async def events(n_clicks):
        yield stream_props("a", {"children": f"a {n_clicks}"})
        await asyncio.sleep(0.05)
        yield stream_props("b", {"children": f"b {n_clicks}"})

    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#go").click()
    dash_duo_mp.wait_for_text_to_equal("#b", "b 1")
    assert dash_duo_mp.find_element("#a").text == "a 1"
    assert dash_duo_mp.get_logs() == []


def test_a_streaming_callback_runs_on_page_load_unless_prevented(dash_duo_mp):
    app = Flash(__name__)
    app.layout = html.Div([dcc.Input(id="name", value="world"), html.Div(id="greeting")])

    @callback(Output("greeting", "children"), Input("name", "value"))
    async def greet(name):
        yield "..."
        await asyncio.sleep(0.05)
        yield f"Hello, {name}!"

    dash_duo_mp.start_server(app)
    dash_duo_mp.wait_for_text_to_equal("#greeting", "Hello, world!")
    dash_duo_mp.find_element("#name").send_keys("!")
    dash_duo_mp.wait_for_text_to_equal("#greeting", "Hello, world!!")
    assert dash_duo_mp.get_logs() == []


RESOURCES_JS = "return performance.getEntriesByType('resource').map(function (e) { return e.name; });"


def test_with_shared_storage_on_only_flashs_transport_carries_the_stream(dash_duo_mp):
    """Dash 4.5 would carry this stream over its own downlink (a SharedWorker running
    dash-stream-worker.js, posting to _dash-update-component) once the app has shared storage.
    Under Flash the page loads no Dash stream worker and posts nothing to _dash-update-component:
    the frames arrive over Flash's downlink (its fetches run in Flash's own SharedWorker, so the
    page's resource list does not show them). On Dash 4.4 the same holds trivially."""
    app = Flash(__name__, shared_storage="local")
    app.layout = html.Div([html.Button("go", id="go"), html.Div("Ready", id="status")])

    @callback(Output("status", "children"), Input("go", "n_clicks"), prevent_initial_call=True)
    async def count(n_clicks):
        for i in range(1, 4):
            yield f"frame {i}"
            await asyncio.sleep(0.01)

    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#go").click()
    dash_duo_mp.wait_for_text_to_equal("#status", "frame 3")
    resources = dash_duo_mp.driver.execute_script(RESOURCES_JS)
    assert not [r for r in resources if "dash-stream-worker" in r], resources
    assert not [r for r in resources if "_dash-update-component" in r], resources  # the only callback streams
    assert dash_duo_mp.get_logs() == []


@pytest.mark.skipif(not hasattr(dash, "BaseSharedStorage"), reason="needs Dash 4.5 (on 4.4 dash.callback does not stream)")
def test_a_stream_registered_with_dash_callback_runs_on_flashs_transport(dash_duo_mp):
    """A Dash 4.5 app moving to Flash may keep `from dash import callback`: its streaming
    callback still streams, over Flash's downlink (no Dash stream worker, no NDJSON response),
    with its on_error and running= kept."""
    app = Flash(__name__, shared_storage="local")
    app.layout = html.Div([html.Button("go", id="go"), dcc.Input(id="who", value="dash"), html.Div("Ready", id="status")])

    @dash.callback(
        Output("status", "children"),
        Input("go", "n_clicks"),
        State("who", "value"),
        prevent_initial_call=True,
        on_error=lambda exc: f"handled: {exc}",
        running=[(Output("go", "disabled"), True, False)],
    )
    async def count(n_clicks, who):
        for i in range(1, 4):
            yield f"{who} frame {i} of run {n_clicks}"
            await asyncio.sleep(0.4)
        if n_clicks == 2:
            raise RuntimeError("second run fails")

    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#go").click()
    dash_duo_mp.wait_for_element("#go:disabled")  # running=: disabled while it streams
    dash_duo_mp.wait_for_text_to_equal("#status", "dash frame 3 of run 1")
    dash_duo_mp.wait_for_element("#go:enabled")  # and enabled again once it ended
    dash_duo_mp.find_element("#go").click()
    dash_duo_mp.wait_for_text_to_equal("#status", "handled: second run fails")  # its on_error came along
    dash_duo_mp.wait_for_element("#go:enabled")
    resources = dash_duo_mp.driver.execute_script(RESOURCES_JS)
    assert not [r for r in resources if "dash-stream-worker" in r or "_dash-update-component" in r], resources
    assert dash_duo_mp.get_logs() == []
