"""Stream declarations in Chromium: Flash's `cancel=[(Input, desired)]` on a streaming callback with
Outputs, and an `@app.event_callback` declared after the app served (pages loaded later have it)."""

from __future__ import annotations

import asyncio

import pytest

from flash import Flash, Input, Output, html, stream_props
from tests.streaming.probe import Probe

pytestmark = pytest.mark.browser


def test_flashs_cancel_form_stops_a_streaming_callback_with_outputs(dash_duo_mp):
    app = Flash(__name__, stream_resume_window=60)
    app.layout = html.Div([html.Button("start", id="start"), html.Button("stop", id="stop"), html.Div(id="tick")])
    probe = Probe(app)

    @app.callback(
        Output("tick", "children"),
        Input("start", "n_clicks"),
        cancel=[(Input("stop", "n_clicks"), None)],
        prevent_initial_call=True,
    )
    async def tick(n_clicks):
        probe.count("started")
        try:
            i = 0
            while True:
                i += 1
                yield f"tick {i}"
                await asyncio.sleep(0.05)
        finally:
            probe.count("closed")

    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#start").click()
    dash_duo_mp.wait_for(
        lambda: (
            dash_duo_mp.find_element("#tick").text.startswith("tick")
            and int(dash_duo_mp.find_element("#tick").text.split()[-1]) >= 3
        ),
        msg="the stream ticks",
    )
    dash_duo_mp.find_element("#stop").click()
    probe.wait_state(dash_duo_mp, lambda s: s.get("closed", 0) == 1 and s["live"] == 0, "the generator's finally ran")
    last = dash_duo_mp.find_element("#tick").text
    probe.wait_state(dash_duo_mp, lambda s: s["live"] == 0, "still closed")
    assert dash_duo_mp.find_element("#tick").text == last
    assert dash_duo_mp.get_logs() == []


def test_an_event_callback_declared_after_the_first_request_works_on_pages_loaded_later(dash_duo_mp):
    app = Flash(__name__)
    app.layout = html.Div([html.Button("go", id="go"), html.Div("idle", id="out")])

    async def declare():  # runs in the server process, after pages were served
        @app.event_callback(Input("go", "n_clicks"))
        async def late(n_clicks):
            yield stream_props("out", {"children": f"late stream {n_clicks}"})

        return {"declared": late.stream_id}

    app.server.add_url_rule("/declare-late", "declare_late", declare)
    dash_duo_mp.start_server(app)
    dash_duo_mp.wait_for_text_to_equal("#out", "idle")
    dash_duo_mp.driver.get(dash_duo_mp.server.url_for("/declare-late"))
    assert "declared" in dash_duo_mp.driver.page_source
    dash_duo_mp.driver.get(dash_duo_mp.server.url_for("/"))
    dash_duo_mp.wait_for_text_to_equal("#out", "idle")
    dash_duo_mp.find_element("#go").click()
    dash_duo_mp.wait_for_text_to_equal("#out", "late stream 1")
    assert dash_duo_mp.get_logs() == []
