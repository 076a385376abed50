"""Errors and network drops, in Chromium: on_error, reset_props, dev tools, resume and restart."""

from __future__ import annotations

import asyncio

import pytest

from flash import Flash, Input, Output, Patch, event_callback, html, stream_props
from tests.streaming.probe import Probe, running

pytestmark = pytest.mark.browser


def make_failing_app() -> tuple[Flash, Probe]:
    app = Flash(__name__)
    app.layout = html.Div(
        [
            html.Button("start", id="start"),
            html.Div("idle", id="busy", hidden=True),
            html.Div(id="partial"),
            html.Div(id="status"),
            html.Button("ping", id="ping"),
            html.Div(id="pong"),
        ]
    )
    probe = Probe(app)

    def on_error(exc):
        probe.count("on_error")
        return stream_props("status", {"children": f"Failed: {exc}"})

    @event_callback(
        Input("start", "n_clicks"),
        on_error=on_error,
        reset_props=[("start", {"disabled": False}), ("busy", {"hidden": True})],
    )
    async def breaks(n_clicks):
        yield stream_props(
            [("start", {"disabled": True}), ("busy", {"hidden": False}), ("partial", {"children": f"partial {n_clicks}"})]
        )
        await probe.gate(f"fail-{n_clicks}").wait()
        raise ValueError(f"database down {n_clicks}")

    @app.callback(Output("pong", "children"), Input("ping", "n_clicks"), prevent_initial_call=True)
    async def pong(n_clicks):
        return f"pong {n_clicks}"

    return app, probe


def fail_once(duo, probe: Probe, n: int) -> None:
    duo.find_element("#start").click()
    duo.wait_for_text_to_equal("#partial", f"partial {n}")
    assert duo.find_element("#start").get_attribute("disabled") == "true"
    assert duo.find_element("#busy").get_attribute("hidden") is None
    probe.release(duo, f"fail-{n}")
    duo.wait_for_text_to_equal("#status", f"Failed: database down {n}")
    duo.wait_for_element("#start:not([disabled])")  # reset_props applied after the error
    assert duo.find_element("#busy").get_attribute("hidden") == "true"
    probe.wait_state(duo, lambda s: s["live"] == 0 and s["on_error"] == n, "the failed run is gone")
    assert running(duo) == []


WARNINGS_JS = """window.__warnings = []; var warn = console.warn;
console.warn = function () { window.__warnings.push(Array.prototype.join.call(arguments, ' ')); return warn.apply(console, arguments); };"""


def test_an_error_shows_on_error_output_then_resets_and_the_page_keeps_working(dash_duo_mp):
    app, probe = make_failing_app()
    dash_duo_mp.start_server(app)
    dash_duo_mp.driver.execute_script(WARNINGS_JS)
    fail_once(dash_duo_mp, probe, 1)
    dash_duo_mp.find_element("#ping").click()
    dash_duo_mp.wait_for_text_to_equal("#pong", "pong 1")
    fail_once(dash_duo_mp, probe, 2)  # the same stream can start again after failing
    dash_duo_mp.find_element("#ping").click()
    dash_duo_mp.wait_for_text_to_equal("#pong", "pong 2")

    # on_error handled it, so the page shows the failure itself: a console warning at most, no
    # console.error; and without debug the browser is never told why (no traceback leaks).
    assert dash_duo_mp.get_logs() == []
    warnings = dash_duo_mp.driver.execute_script("return window.__warnings || []")
    assert warnings and all("The stream failed." in w for w in warnings), warnings
    assert not any("database down" in w for w in warnings)
    assert not dash_duo_mp.find_elements(".dash-debug-menu__outer")


def test_in_debug_mode_a_stream_error_shows_in_dev_tools(dash_duo_mp):
    app, probe = make_failing_app()
    dash_duo_mp.start_server(app, debug=True)
    dash_duo_mp.wait_for_element(".dash-debug-menu__outer")
    fail_once(dash_duo_mp, probe, 1)
    dash_duo_mp.wait_for_text_to_equal(dash_duo_mp.devtools_error_count_locator, "1")
    fail_once(dash_duo_mp, probe, 2)
    dash_duo_mp.wait_for_text_to_equal(dash_duo_mp.devtools_error_count_locator, "2")

    dash_duo_mp.find_element(".test-devtools-error-toggle").click()
    dash_duo_mp.wait_for_element(".dash-fe-error__title")
    titles = dash_duo_mp.driver.execute_script(
        "return Array.from(document.querySelectorAll('.dash-fe-error__title')).map(function (e) { return e.innerText; });"
    )
    assert sorted(titles) == ["database down 1", "database down 2"]  # the exception's message, as Dash 4.5 shows it
    reports = dash_duo_mp.driver.execute_script(
        "return Array.from(document.querySelectorAll('.dash-backend-error pre')).map(function (p) { return p.innerText; });"
    )
    assert reports, "the error card shows the server-side traceback"
    assert any('raise ValueError(f"database down {n_clicks}")' in r and "ValueError: database down" in r for r in reports), (
        reports
    )  # the generator's traceback
    assert not dash_duo_mp.find_elements(".dash-fe-error__st details"), "no JavaScript stack: the error is the server's"
    dash_duo_mp.find_element("#ping").click()
    dash_duo_mp.wait_for_text_to_equal("#pong", "pong 1")


def numbers_app(resume_window: float) -> tuple[Flash, Probe]:
    """An endless stream appending 1, 2, 3... to a list; counts generator starts and closes.

    Its reset_props empty the list: a stream that has to start over starts from a clean page.
    """
    app = Flash(__name__, stream_resume_window=resume_window)
    app.layout = html.Div([html.Button("start", id="start"), html.Div(id="seq", children=[]), html.Div(id="run")])
    probe = Probe(app)

    @app.server.before_request
    async def count_stream_requests():
        from quart import request

        if request.method == "POST" and request.path.startswith("/_flash/stream/"):
            probe.count("requests")
        if request.method == "POST" and request.path == "/_flash/downlink":
            probe.count("downlinks")
            if probe.refusing():
                return {"error": "unavailable (test)", "status": 503}, 503

    @event_callback(Input("start", "n_clicks"), reset_props=[("seq", {"children": []})])
    async def numbers(n_clicks):
        probe.count("started")
        run = probe.counts["started"]
        try:
            i = 0
            while True:
                i += 1
                tail = Patch()
                tail.append(f"{i},")
                yield stream_props([("seq", {"children": tail}), ("run", {"children": f"run {run} at {i}"})])
                await asyncio.sleep(0.02)
        finally:
            probe.count("closed")

    return app, probe


def sequence(duo) -> list[int]:
    text = duo.find_element("#seq").text.strip(",")
    return [int(part) for part in text.split(",")] if text else []


def wait_longer(duo, than: int) -> list[int]:
    def check():
        seq = sequence(duo)
        return seq if len(seq) > than else None

    return duo.wait_for(check, timeout=10, msg=f"more than {than} numbers")


def test_a_dropped_stream_reconnects_and_resumes_without_gaps_or_repeats(dash_duo_mp):
    app, probe = numbers_app(resume_window=30)
    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#start").click()
    seen = wait_longer(dash_duo_mp, 10)
    for drop in (1, 2, 3):
        assert probe.drop(dash_duo_mp) == 1  # the server cuts the connection; the run stays
        probe.wait_state(dash_duo_mp, lambda s, d=drop: s["downlinks"] == 1 + d, f"reconnect #{drop}")
        seen = wait_longer(dash_duo_mp, len(seen) + 10)
    state = probe.state(dash_duo_mp)
    assert state["started"] == 1 and state["live"] == 1 and "closed" not in state  # resumed, not restarted
    assert state["requests"] == 1  # one start; the reconnects were downlink requests only
    assert seen == list(range(1, len(seen) + 1))  # no gap, no duplicate
    assert dash_duo_mp.find_element("#run").text.startswith("run 1 ")
    assert len(running(dash_duo_mp)) == 1
    assert dash_duo_mp.get_logs() == []


def test_a_run_closed_by_the_server_ends_the_page_stream_without_a_reconnect(dash_duo_mp):
    app, probe = numbers_app(resume_window=30)
    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#start").click()
    wait_longer(dash_duo_mp, 5)
    assert probe.close_all(dash_duo_mp) == 1
    probe.wait_state(dash_duo_mp, lambda s: s.get("closed") == 1 and s["live"] == 0, "the run closed")
    dash_duo_mp.wait_for(lambda: running(dash_duo_mp) == [], msg="the page knows the stream ended")
    # A client that took the end for a network drop would still be running it, reconnecting.
    stopped = sequence(dash_duo_mp)
    dash_duo_mp.find_element("#start").click()  # the page can start it again
    dash_duo_mp.wait_for(lambda: dash_duo_mp.find_element("#run").text.startswith("run 2 "), msg="a new run")
    assert stopped == list(range(1, len(stopped) + 1))
    assert probe.state(dash_duo_mp)["requests"] == 2
    assert dash_duo_mp.get_logs() == []


def test_a_stream_whose_run_expired_restarts_cleanly(dash_duo_mp):
    app, probe = numbers_app(resume_window=0.2)
    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#start").click()
    wait_longer(dash_duo_mp, 5)

    probe.refuse(dash_duo_mp, 1.5)  # reconnect attempts fail (503) for a while
    assert probe.drop(dash_duo_mp) == 1
    probe.wait_state(dash_duo_mp, lambda s: s.get("closed") == 1 and s["live"] == 0, "the dropped run expired")

    dash_duo_mp.wait_for(lambda: dash_duo_mp.find_element("#run").text.startswith("run 2 "), msg="a new run writes")
    state = probe.wait_state(dash_duo_mp, lambda s: s["started"] == 2 and s["live"] == 1, "one fresh run")
    assert state["closed"] == 1
    seen = wait_longer(dash_duo_mp, 10)
    # reset_props emptied the list before the new run's first number: 1, 2, 3... once again.
    assert seen == list(range(1, len(seen) + 1))
    assert dash_duo_mp.find_element("#run").text.startswith("run 2 ")
    assert len(running(dash_duo_mp)) == 1
    assert probe.state(dash_duo_mp)["live"] == 1
    # The refused reconnects are the downlink's business (in the shared worker), not the page's.
    assert all("503" in entry["message"] for entry in dash_duo_mp.get_logs())


def test_a_stopping_worker_ends_the_stream_and_the_page_starts_it_over(dash_duo_mp):
    """What SIGTERM does (tests/integration/test_graceful_shutdown.py sends a real one), seen from
    the page: the downlink gets `shutdown`, the generator's `finally` runs, reset_props applies,
    and once a worker answers again the hub reconnects and the stream runs anew."""
    app = Flash(__name__)
    app.layout = html.Div([html.Button("go", id="go"), html.Div("idle", id="tick")])
    probe = Probe(app)

    async def stop_worker():
        app._shutdown.begin("test")
        return {"stopping": True}

    async def serve_again():  # as a restarted worker would
        app._shutdown.begun = False
        app.stream_runs.closing = False
        return {"serving": True}

    app.server.add_url_rule("/_probe/stop", "probe_stop", stop_worker)
    app.server.add_url_rule("/_probe/serve", "probe_serve", serve_again)

    @app.event_callback(Input("go", "n_clicks"), reset_props=[("tick", {"children": "reset"})])
    async def ticker(n_clicks):
        probe.count("started")
        try:
            i = 0
            while True:
                i += 1
                yield stream_props("tick", {"children": f"tick {i}"})
                await asyncio.sleep(0.05)
        finally:
            probe.count("closed")

    dash_duo_mp.start_server(app)
    dash_duo_mp.wait_for_element("#go").click()
    dash_duo_mp.wait_for(lambda: dash_duo_mp.find_element("#tick").text.startswith("tick "), msg="streaming")
    probe._get(dash_duo_mp, "/_probe/stop")
    probe.wait_state(dash_duo_mp, lambda s: s.get("closed") == 1 and s["live"] == 0, "the generator closed")
    probe._get(dash_duo_mp, "/_probe/serve")
    probe.wait_state(dash_duo_mp, lambda s: s.get("started") == 2 and s["live"] == 1, "the page started it over", timeout=30)
    dash_duo_mp.wait_for(lambda: dash_duo_mp.find_element("#tick").text.startswith("tick "), msg="streaming again")
