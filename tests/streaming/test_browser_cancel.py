"""Cancel, restart and leaving the page, in Chromium: the server generator must close promptly.

Every app here keeps a dropped run for 60 s (`stream_resume_window=60`), so a generator that
closes within the test's waits was closed by the client's DELETE, not by the resume timeout.
"""

from __future__ import annotations

import asyncio

import pytest

from flash import Flash, Input, Output, Patch, dcc, event_callback, html, page_container, register_page, stream_props
from tests.streaming.probe import Probe, running, texts

pytestmark = pytest.mark.browser


def ticking(probe: Probe, first: list | None = None):
    """An endless generator that counts its starts and its `finally`s on the probe."""

    async def tick(n_clicks, *_rest):
        if not n_clicks:
            # A page change inserts the start button: like any Dash callback whose output is
            # outside the new layout chunk, the trigger fires once with n_clicks=None.
            return
        probe.count("started")
        try:
            yield stream_props([*(first or []), ("status", {"children": "running"})])
            i = 0
            while True:
                i += 1
                yield stream_props("tick", {"children": f"tick {i}"})
                await asyncio.sleep(0.05)
        finally:
            probe.count("closed")

    return tick


def tick_number(duo, selector: str = "#tick") -> int:
    text = duo.find_element(selector).text
    return int(text.split()[-1]) if text.startswith("tick") else 0


def wait_ticking(duo, selector: str = "#tick") -> int:
    return duo.wait_for(lambda: tick_number(duo, selector) >= 3, msg="the stream ticks")


def assert_closed(duo, probe: Probe, started: int = 1) -> None:
    probe.wait_state(duo, lambda s: s.get("closed", 0) == started and s["live"] == 0, "generator's finally ran")
    assert probe.state(duo)["started"] == started
    assert running(duo) == []


def test_stop_button_cancels_resets_and_closes_the_generator(dash_duo_mp):
    app = Flash(__name__, stream_resume_window=60)
    app.layout = html.Div(
        [
            html.Button("start", id="start"),
            html.Button("stop", id="stop", hidden=True),
            html.Div("idle", id="status"),
            html.Div(id="tick"),
        ]
    )
    probe = Probe(app)
    event_callback(
        Input("start", "n_clicks"),
        cancel=[(Input("stop", "n_clicks"), 0)],
        reset_props=[("start", {"disabled": False}), ("stop", {"hidden": True}), ("status", {"children": "stopped"})],
    )(ticking(probe, first=[("start", {"disabled": True}), ("stop", {"hidden": False})]))

    dash_duo_mp.start_server(app)
    for round_ in (1, 2):  # cancelling works again on a second run (n_clicks 2 != 0 too)
        before = dash_duo_mp.find_element("#tick").text
        dash_duo_mp.find_element("#start").click()
        dash_duo_mp.wait_for_text_to_equal("#status", "running")
        assert dash_duo_mp.find_element("#start").get_attribute("disabled") == "true"
        dash_duo_mp.wait_for(
            lambda: dash_duo_mp.find_element("#tick").text != before and tick_number(dash_duo_mp) >= 3,
            msg="the new run ticks",
        )
        dash_duo_mp.find_element("#stop").click()
        dash_duo_mp.wait_for_text_to_equal("#status", "stopped")
        dash_duo_mp.wait_for_element("#start:not([disabled])")
        assert dash_duo_mp.find_element("#stop").get_attribute("hidden") == "true"
        assert_closed(dash_duo_mp, probe, started=round_)
        last = dash_duo_mp.find_element("#tick").text
        probe.wait_state(dash_duo_mp, lambda s: s["live"] == 0, "still closed")
        assert dash_duo_mp.find_element("#tick").text == last  # nothing arrives after the close
    assert dash_duo_mp.get_logs() == []


def test_leaving_the_tab_cancels(dash_duo_mp):
    app = Flash(__name__, stream_resume_window=60)
    app.layout = html.Div(
        [
            dcc.Tabs(
                id="tabs",
                value="live",
                children=[
                    dcc.Tab(
                        label="Live",
                        value="live",
                        id="tab-live",
                        children=[html.Button("start", id="start"), html.Div(id="tick")],
                    ),
                    dcc.Tab(label="Other", value="other", id="tab-other", children=[html.Div("other content", id="other")]),
                ],
            ),
            html.Div("idle", id="status"),
        ]
    )
    probe = Probe(app)
    event_callback(
        Input("start", "n_clicks"),
        cancel=[(Input("tabs", "value"), "live")],
        reset_props=[("status", {"children": "cancelled"})],
    )(ticking(probe))

    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#start").click()
    wait_ticking(dash_duo_mp)
    dash_duo_mp.find_element("#tab-other").click()
    dash_duo_mp.wait_for_text_to_equal("#other", "other content")
    dash_duo_mp.wait_for_text_to_equal("#status", "cancelled")
    assert_closed(dash_duo_mp, probe)

    # Back on the tab the stream starts again when asked, and leaving cancels it again.
    dash_duo_mp.find_element("#tab-live").click()
    dash_duo_mp.find_element("#start").click()
    dash_duo_mp.wait_for_text_to_equal("#status", "running")
    wait_ticking(dash_duo_mp)
    dash_duo_mp.find_element("#tab-other").click()
    dash_duo_mp.wait_for_text_to_equal("#status", "cancelled")
    assert_closed(dash_duo_mp, probe, started=2)
    assert dash_duo_mp.get_logs() == []


def test_changing_the_pathname_cancels(dash_duo_mp):
    app = Flash(__name__, stream_resume_window=60, suppress_callback_exceptions=True)
    app.layout = html.Div(
        [
            dcc.Location(id="url"),
            dcc.Link("home", href="/", id="to-home"),
            dcc.Link("other page", href="/other", id="to-other"),
            html.Div(id="page"),
            html.Div("idle", id="status"),
        ]
    )
    probe = Probe(app)

    @app.callback(Output("page", "children"), Input("url", "pathname"))
    async def render(pathname):
        if pathname == "/other":
            return html.H2("Other page", id="title")
        return html.Div([html.H2("Home", id="title"), html.Button("start", id="start"), html.Div(id="tick")])

    event_callback(
        Input("start", "n_clicks"),
        cancel=[(Input("url", "pathname"), "/")],
        reset_props=[("status", {"children": "left the page"})],
    )(ticking(probe))

    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#start").click()
    wait_ticking(dash_duo_mp)
    dash_duo_mp.find_element("#to-other").click()
    dash_duo_mp.wait_for_text_to_equal("#title", "Other page")
    dash_duo_mp.wait_for_text_to_equal("#status", "left the page")
    assert_closed(dash_duo_mp, probe)

    dash_duo_mp.find_element("#to-home").click()  # desired pathname again: nothing to cancel
    dash_duo_mp.find_element("#start").click()
    dash_duo_mp.wait_for_text_to_equal("#status", "running")
    wait_ticking(dash_duo_mp)
    assert probe.state(dash_duo_mp)["live"] == 1
    dash_duo_mp.find_element("#to-other").click()
    dash_duo_mp.wait_for_text_to_equal("#status", "left the page")
    assert_closed(dash_duo_mp, probe, started=2)
    assert dash_duo_mp.get_logs() == []


def test_changing_page_in_a_multi_page_app_cancels(dash_duo_mp):
    app = Flash(__name__, use_pages=True, pages_folder="", stream_resume_window=60)
    register_page("home", path="/", layout=html.Div([html.Button("start", id="start"), html.Div(id="tick")]))
    register_page("other", path="/other", layout=html.H2("Other page", id="title"))
    app.layout = html.Div(
        [dcc.Location(id="url"), dcc.Link("other", href="/other", id="to-other"), page_container, html.Div("idle", id="status")]
    )
    probe = Probe(app)
    event_callback(
        Input("start", "n_clicks"),
        cancel=[(Input("url", "pathname"), "/")],
        reset_props=[("status", {"children": "left the page"})],
    )(ticking(probe))

    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#start").click()
    wait_ticking(dash_duo_mp)
    dash_duo_mp.find_element("#to-other").click()
    dash_duo_mp.wait_for_text_to_equal("#title", "Other page")
    dash_duo_mp.wait_for_text_to_equal("#status", "left the page")
    assert_closed(dash_duo_mp, probe)
    assert dash_duo_mp.get_logs() == []


def test_starting_again_replaces_the_running_stream(dash_duo_mp):
    app = Flash(__name__, stream_resume_window=60)
    app.layout = html.Div([html.Button("start", id="start"), html.Ul(id="log", children=[])])
    probe = Probe(app)

    @event_callback(Input("start", "n_clicks"))
    async def writer(n_clicks):
        probe.count("started")
        try:
            i = 0
            while True:
                i += 1
                entry = Patch()
                entry.append(html.Li(f"{n_clicks}:{i}"))
                yield stream_props("log", {"children": entry})
                await asyncio.sleep(0.03)
        finally:
            probe.count("closed")

    dash_duo_mp.start_server(app)
    start = dash_duo_mp.find_element("#start")
    for n in (1, 2, 3):
        start.click()
        dash_duo_mp.wait_for(lambda: f"{n}:5" in texts(dash_duo_mp, "#log li"), msg=f"run {n} writes")
        state = probe.wait_state(dash_duo_mp, lambda s: s.get("closed", 0) == n - 1, "older runs closed")
        assert state["live"] == 1 and state["started"] == n
        assert len(running(dash_duo_mp)) == 1

    runs = [int(text.split(":")[0]) for text in texts(dash_duo_mp, "#log li")]
    # Once a run has written, no older run writes again: the page never interleaves two streams.
    assert runs == sorted(runs) and set(runs) == {1, 2, 3}
    for n in (1, 2, 3):
        counts = [int(text.split(":")[1]) for text in texts(dash_duo_mp, "#log li") if text.startswith(f"{n}:")]
        assert counts == list(range(1, len(counts) + 1))
    assert dash_duo_mp.get_logs() == []


def test_navigating_away_and_closing_the_tab_close_the_generator(dash_duo_mp):
    app = Flash(__name__, stream_resume_window=60)
    app.layout = html.Div([html.Button("start", id="start"), html.Div(id="tick"), html.Div(id="status")])
    probe = Probe(app)
    event_callback(Input("start", "n_clicks"))(ticking(probe))

    dash_duo_mp.start_server(app)
    driver = dash_duo_mp.driver
    dash_duo_mp.find_element("#start").click()
    wait_ticking(dash_duo_mp)
    driver.get(dash_duo_mp.server.url_for("/_probe"))  # navigate away from the app
    probe.wait_state(dash_duo_mp, lambda s: s.get("closed") == 1 and s["live"] == 0, "closed after navigating away")

    # A second tab streams, then is closed; the first tab stays open.
    first = driver.current_window_handle
    driver.execute_script("window.open(arguments[0], '_blank');", dash_duo_mp.server.url)
    second = [handle for handle in driver.window_handles if handle != first][0]
    driver.switch_to.window(second)
    dash_duo_mp.find_element("#start").click()
    wait_ticking(dash_duo_mp)
    assert probe.state(dash_duo_mp)["live"] == 1
    driver.close()
    driver.switch_to.window(first)
    probe.wait_state(dash_duo_mp, lambda s: s.get("closed") == 2 and s["live"] == 0, "closed after closing the tab")
    assert probe.state(dash_duo_mp)["started"] == 2
