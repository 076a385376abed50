"""The page client when things go wrong, in Chromium: giving up, refusals, malformed events and
the back/forward cache. Each ends with the stream's reset_props applied and the error reported."""

from __future__ import annotations

import asyncio

import pytest
from quart import Response, request

from flash import Flash, Input, Output, event_callback, html, stream_props
from tests.streaming.probe import Probe, running

pytestmark = pytest.mark.browser


def ticker_app(**options) -> tuple[Flash, Probe]:
    app = Flash(__name__, **options)
    app.layout = html.Div(
        [
            html.Button("start", id="start"),
            html.Div(id="tick"),
            html.Div("idle", id="state"),
            html.Button("ping", id="ping"),
            html.Div(id="pong"),
        ]
    )
    probe = Probe(app)
    probe.flags = set()

    @app.server.before_request
    async def faults():
        if request.method != "POST":
            return None
        if request.path == "/_flash/downlink":
            probe.count("downlinks")
            if probe.refusing():
                return {"error": "unavailable (test)", "status": 503}, 503
            if "malformed" in probe.flags and probe.counts["downlinks"] > 1:
                token = (await request.get_json())["downlink"]
                body = f'event: hello\ndata: {{"downlink": "{token}", "resumed": true}}\n\nevent: props\ndata: {{nope\n\n'
                return Response(body, content_type="text/event-stream")
        if request.path.startswith("/_flash/stream/") and "refuse-start" in probe.flags:
            return {"error": "not allowed (test)", "status": 403}, 403
        return None

    @app.server.route("/_probe/flag/<name>")
    async def flag(name):
        probe.flags.add(name)
        return {"flag": name}

    @event_callback(Input("start", "n_clicks"), reset_props=[("state", {"children": "reset"}), ("start", {"disabled": False})])
    async def ticker(n_clicks):
        probe.count("started")
        try:
            yield stream_props([("state", {"children": "running"}), ("start", {"disabled": True})])
            i = 0
            while True:
                i += 1
                yield stream_props("tick", {"children": f"tick {i}"})
                await asyncio.sleep(0.05)
        finally:
            probe.count("closed")

    @app.callback(Output("pong", "children"), Input("ping", "n_clicks"), prevent_initial_call=True)
    async def pong(n_clicks):
        return f"pong {n_clicks}"

    return app, probe


def set_flag(duo, probe: Probe, name: str) -> None:
    probe._get(duo, f"/_probe/flag/{name}")


def start_ticking(duo) -> None:
    duo.find_element("#start").click()
    duo.wait_for_text_to_equal("#state", "running")
    duo.wait_for(lambda: duo.find_element("#tick").text.startswith("tick"), msg="ticks")


def severe(duo) -> list[str]:
    return [entry["message"] for entry in duo.get_logs()]


def test_a_downlink_that_stays_down_gives_up_resets_and_reports(dash_duo_mp):
    app, probe = ticker_app(stream_give_up=1, stream_resume_window=1)
    dash_duo_mp.start_server(app, debug=True)
    start_ticking(dash_duo_mp)
    probe.refuse(dash_duo_mp, 30)
    assert probe.drop(dash_duo_mp) == 1
    dash_duo_mp.wait_for_text_to_equal("#state", "reset", timeout=15)
    dash_duo_mp.wait_for_element("#start:not([disabled])")
    dash_duo_mp.wait_for(lambda: running(dash_duo_mp) == [], msg="the page stopped the stream")
    dash_duo_mp.wait_for_text_to_equal(dash_duo_mp.devtools_error_count_locator, "1")
    assert any("streams stopped" in message for message in severe(dash_duo_mp))
    # The server closes the orphaned run once its resume window passes.
    probe.wait_state(dash_duo_mp, lambda s: s.get("closed") == 1 and s["live"] == 0, "the run closed")
    dash_duo_mp.find_element("#ping").click()  # the page keeps working
    dash_duo_mp.wait_for_text_to_equal("#pong", "pong 1")


def test_a_refused_start_applies_reset_props_and_logs_the_refusal(dash_duo_mp):
    app, probe = ticker_app()
    dash_duo_mp.start_server(app)
    set_flag(dash_duo_mp, probe, "refuse-start")
    dash_duo_mp.find_element("#start").click()
    dash_duo_mp.wait_for_text_to_equal("#state", "reset")
    dash_duo_mp.wait_for(lambda: running(dash_duo_mp) == [], msg="nothing runs")
    messages = severe(dash_duo_mp)
    assert any("refused" in m and "403" in m for m in messages), messages
    assert probe.state(dash_duo_mp).get("started") is None


def test_a_malformed_event_is_an_error_not_skipped(dash_duo_mp):
    app, probe = ticker_app(stream_resume_window=1)
    dash_duo_mp.start_server(app)
    start_ticking(dash_duo_mp)
    set_flag(dash_duo_mp, probe, "malformed")
    assert probe.drop(dash_duo_mp) == 1  # the reconnect gets a broken event
    dash_duo_mp.wait_for_text_to_equal("#state", "reset")
    dash_duo_mp.wait_for(lambda: running(dash_duo_mp) == [], msg="the stream stopped")
    assert any("not JSON" in m for m in severe(dash_duo_mp))
    probe.wait_state(dash_duo_mp, lambda s: s.get("closed") == 1 and s["live"] == 0, "the run closed")


BFCACHE_JS = """
window.dispatchEvent(new PageTransitionEvent('pagehide', {persisted: true}));
window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}));
"""


def test_a_page_back_from_the_bfcache_resets_its_streams_and_can_start_again(dash_duo_mp):
    app, probe = ticker_app(stream_resume_window=60)
    dash_duo_mp.start_server(app)
    start_ticking(dash_duo_mp)
    dash_duo_mp.driver.execute_script(BFCACHE_JS)
    # Leaving closed the run on the server; coming back showed the reset state, not a frozen one.
    probe.wait_state(dash_duo_mp, lambda s: s.get("closed") == 1 and s["live"] == 0, "closed on pagehide")
    dash_duo_mp.wait_for_text_to_equal("#state", "reset")
    assert running(dash_duo_mp) == []
    start_ticking(dash_duo_mp)
    assert probe.state(dash_duo_mp)["started"] == 2
    assert severe(dash_duo_mp) == []


def test_window_flash_is_the_public_api_only(dash_duo_mp):
    app, _ = ticker_app()
    dash_duo_mp.start_server(app)
    names = dash_duo_mp.driver.execute_script("return Object.keys(window.flash).sort()")
    assert names == ["deltaProps", "running", "stop"]
    start_ticking(dash_duo_mp)
    dash_duo_mp.driver.execute_script("window.flash.stop(window.flash.running()[0])")
    dash_duo_mp.wait_for_text_to_equal("#state", "reset")
