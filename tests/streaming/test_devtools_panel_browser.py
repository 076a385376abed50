"""The dev tools' Streams panel in Chromium: with debug it lists the page's running stream and
its Stop button ends it (the generator's `finally` runs, the page sees the run end); without
debug there is no panel at all."""

from __future__ import annotations

import asyncio
import re

import pytest

from flash import Flash, Input, event_callback, html, stream_props
from tests.streaming.probe import running

pytestmark = pytest.mark.browser


def ticking_app(seen: dict[str, int]) -> Flash:
    app = Flash(__name__, stream_resume_window=60)
    app.layout = html.Div([html.Button("start", id="start"), html.Div("idle", id="status"), html.Div(id="tick")])

    @event_callback(Input("start", "n_clicks"), prevent_initial_call=True)
    async def panel_ticker(n_clicks):
        seen["started"] = seen.get("started", 0) + 1
        try:
            yield stream_props("status", {"children": "running"})
            i = 0
            while True:
                i += 1
                yield stream_props("tick", {"children": f"tick {i}"})
                await asyncio.sleep(0.05)
        finally:
            seen["closed"] = seen.get("closed", 0) + 1

    return app


def panel_stream(app: Flash) -> str:
    [stream_id] = app.streams
    return stream_id


def test_the_panel_lists_the_running_stream_and_stops_it(flash_duo):
    seen: dict[str, int] = {}
    app = ticking_app(seen)
    flash_duo.start_server(app, debug=True)
    flash_duo.find_element("#start").click()
    flash_duo.wait_for_text_to_equal("#status", "running")
    assert running(flash_duo) == [panel_stream(app)]

    flash_duo.find_element("#flash-devtools-toggle").click()
    flash_duo.wait_for_element("#flash-devtools-streams .flash-devtools-run")
    row = flash_duo.find_element("#flash-devtools-streams .flash-devtools-run")
    assert "\u25cf panel_ticker" in row.text and "running" in row.text  # marked: this page runs it
    published = row.find_elements("css selector", "td")[3].text  # Stream, State, Frames, Bytes, ...
    assert re.fullmatch(r"[1-9]\d*(\.\d)? (B|KB|MB)", published), published  # the bytes it published

    row.find_element("css selector", ".flash-devtools-stop").click()
    flash_duo.wait_for(lambda: running(flash_duo) == [], msg="the page saw its run end")
    flash_duo.wait_for(lambda: seen.get("closed") == 1, msg="the generator's finally ran")
    flash_duo.wait_for_element("#flash-devtools-streams .flash-devtools-empty")
    assert seen["started"] == 1 and len(app.stream_runs) == 0

    flash_duo.find_element("#flash-devtools-toggle").click()  # closes the panel
    flash_duo.wait_for_no_elements("#flash-devtools-streams")


def test_a_failed_run_shows_its_traceback_in_the_panel(flash_duo):
    app = Flash(__name__)
    app.layout = html.Div([html.Button("start", id="start"), html.Div("idle", id="status")])

    @event_callback(Input("start", "n_clicks"), prevent_initial_call=True)
    async def panel_breaks(n_clicks):
        yield stream_props("status", {"children": "about to fail"})
        raise ValueError("panel database down")

    flash_duo.start_server(app, debug=True)
    flash_duo.find_element("#start").click()
    flash_duo.wait_for_text_to_equal("#status", "about to fail")
    flash_duo.wait_for(lambda: running(flash_duo) == [], msg="the run ended")
    flash_duo.find_element("#flash-devtools-toggle").click()
    flash_duo.wait_for_element("#flash-devtools-streams .flash-devtools-error")
    failure = flash_duo.find_element("#flash-devtools-streams .flash-devtools-error")
    assert "panel_breaks: panel database down" in failure.text
    failure.find_element("css selector", "summary").click()
    trace = failure.find_element("css selector", "pre").text
    assert "Traceback" in trace and "ValueError: panel database down" in trace


def test_without_debug_there_is_no_panel(flash_duo):
    seen: dict[str, int] = {}
    flash_duo.start_server(ticking_app(seen))
    flash_duo.find_element("#start").click()
    flash_duo.wait_for_text_to_equal("#status", "running")
    assert flash_duo.driver.execute_script("return document.getElementById('flash-devtools-toggle')") is None
    assert flash_duo.driver.execute_script(
        "return Array.from(document.scripts).some(s => s.src.indexOf('flash-devtools') >= 0)"
    )  # served, inert
