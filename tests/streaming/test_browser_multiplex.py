"""One downlink per browser, in Chromium: many streams and many tabs never starve the page.

Browsers allow six HTTP/1.1 connections per host; before the shared downlink, a page with more
than five live streams (or a user with a few tabs) locked up. Every test here runs far past that.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest

from flash import ALL, Flash, Input, event_callback, html, stream_props
from tests.streaming.probe import Probe, running
from tests.streaming.stream_apps import PATHS, many_streams_app

pytestmark = pytest.mark.browser

SERVERS = ["hypercorn", "uvicorn"]


TICKS_JS = """
var out = [];
for (var i = 0; i < arguments[0]; i++) {
    var el = document.getElementById('out-' + i);
    var t = el ? el.textContent : '';
    out.push(t ? parseInt(t.split(':')[1], 10) : 0);
}
return out;
"""


def ticks(duo, count: int) -> list[int]:
    return duo.driver.execute_script(TICKS_JS, count)


def all_ticking(duo, count: int, above: list[int] | None = None) -> list[int]:
    """Wait until every stream has shown a value (above `above`, if given)."""

    def check():
        now = ticks(duo, count)
        base = above or [0] * count
        return now if all(n > b for n, b in zip(now, base)) else None

    return duo.wait_for(check, timeout=30, msg=f"all {count} streams update")


def ping_latency(duo, n: int) -> float:
    start = time.perf_counter()
    duo.find_element("#ping").click()
    duo.wait_for_text_to_equal("#pong", f"pong {n}")
    return (time.perf_counter() - start) * 1000


@pytest.mark.parametrize("server", SERVERS)
def test_a_hundred_streams_on_one_page_all_update_and_callbacks_still_answer(dash_duo_mp, server):
    count = 100
    app, probe = many_streams_app(count)
    dash_duo_mp.start_server(app, server=server)
    idle = [ping_latency(dash_duo_mp, n) for n in range(1, 6)]

    dash_duo_mp.find_element("#all").click()
    first = all_ticking(dash_duo_mp, count)
    probe.wait_state(dash_duo_mp, lambda s: s["live"] == count, "all runs live")
    busy = [ping_latency(dash_duo_mp, n) for n in range(6, 11)]
    all_ticking(dash_duo_mp, count, above=first)  # still all moving after the callbacks

    assert probe.downlinks(dash_duo_mp) == {"downlinks": 1, "open": 1}  # one connection for all
    assert len(running(dash_duo_mp)) == count
    # Reported, never asserted (speed lives in benchmarks/): the issue asks for the figure.
    print(
        f"\n[{server}] ordinary callback, median ms: idle {statistics.median(idle):.0f}, "
        f"with {count} streams {statistics.median(busy):.0f}"
    )
    assert dash_duo_mp.get_logs() == []


@pytest.mark.parametrize("server", SERVERS)
def test_ten_tabs_share_one_downlink_and_closing_one_closes_only_its_streams(dash_duo_mp, server):
    count = 3  # streams per tab: 30 streams in all, over one connection
    app, probe = many_streams_app(count)
    dash_duo_mp.start_server(app, server=server)
    driver = dash_duo_mp.driver
    tabs = [driver.current_window_handle]
    for _ in range(9):
        driver.switch_to.new_window("tab")
        driver.get(dash_duo_mp.server.url)
        tabs.append(driver.current_window_handle)

    for handle in tabs:
        driver.switch_to.window(handle)
        dash_duo_mp.wait_for_element("#all").click()
        all_ticking(dash_duo_mp, count)
    probe.wait_state(dash_duo_mp, lambda s: s["live"] == 10 * count, "every tab's runs live")
    assert probe.downlinks(dash_duo_mp) == {"downlinks": 1, "open": 1}  # the shared worker's

    for n, handle in enumerate(tabs, start=1):
        driver.switch_to.window(handle)
        dash_duo_mp.find_element("#ping").click()
        dash_duo_mp.wait_for_text_to_equal("#pong", "pong 1")
        all_ticking(dash_duo_mp, count, above=ticks(dash_duo_mp, count))

    driver.switch_to.window(tabs[3])
    driver.close()
    probe.wait_state(
        dash_duo_mp, lambda s: s.get("closed") == count and s["live"] == 9 * count, "exactly the closed tab's runs ended"
    )
    for handle in tabs[:3] + tabs[4:]:
        driver.switch_to.window(handle)
        all_ticking(dash_duo_mp, count, above=ticks(dash_duo_mp, count))
    assert probe.state(dash_duo_mp).get("closed") == count
    driver.switch_to.window(tabs[0])


NO_SHARED_WORKER = "Object.defineProperty(window, 'SharedWorker', {value: undefined});"


def test_without_shared_worker_each_tab_has_one_downlink_for_all_its_streams(dash_duo_mp):
    count = 20
    app, probe = many_streams_app(count)
    driver = dash_duo_mp.driver
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": NO_SHARED_WORKER})
    dash_duo_mp.start_server(app)
    assert driver.execute_script("return typeof SharedWorker") == "undefined"
    dash_duo_mp.find_element("#all").click()
    all_ticking(dash_duo_mp, count)
    dash_duo_mp.find_element("#ping").click()
    dash_duo_mp.wait_for_text_to_equal("#pong", "pong 1")
    assert probe.downlinks(dash_duo_mp) == {"downlinks": 1, "open": 1}

    driver.switch_to.new_window("tab")
    driver.get(dash_duo_mp.server.url)
    dash_duo_mp.wait_for_element("#all").click()
    all_ticking(dash_duo_mp, count)
    assert probe.downlinks(dash_duo_mp) == {"downlinks": 2, "open": 2}  # one per tab
    driver.close()
    driver.switch_to.window(driver.window_handles[0])
    probe.wait_state(dash_duo_mp, lambda s: s.get("closed") == count and s["live"] == count, "the closed tab's runs ended")
    all_ticking(dash_duo_mp, count, above=ticks(dash_duo_mp, count))
    assert dash_duo_mp.get_logs() == []


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("path", list(PATHS))
def test_every_stream_ends_when_its_page_is_gone_on_every_path(dash_duo_mp, server, path):
    register, options = PATHS[path]
    app = register(Flash(__name__, stream_resume_window=60, **options))
    if options.get("use_pages"):
        from flash import page_container, register_page

        register_page("home", path="/", layout=html.Div([html.Button("go", id="go"), html.Div(id="a"), html.Div(id="b")]))
        app.layout = html.Div([page_container])
    else:
        app.layout = html.Div([html.Button("go", id="go"), html.Div(id="a"), html.Div(id="b")])
    probe = Probe(app)

    for target in ("a", "b"):

        def make(target=target):
            async def endless(n_clicks):
                if not n_clicks:
                    return
                probe.count("started")
                try:
                    i = 0
                    while True:
                        i += 1
                        yield stream_props(target, {"children": f"{target} {i}"})
                        await asyncio.sleep(0.05)
                finally:
                    probe.count("closed")

            endless.__qualname__ = f"endless_{target}"
            event_callback(Input("go", "n_clicks"))(endless)

        make()

    dash_duo_mp.start_server(app, server=server)
    dash_duo_mp.wait_for_element("#go").click()
    dash_duo_mp.wait_for(lambda: dash_duo_mp.find_element("#b").text.startswith("b "), msg="streams run")
    probe.wait_state(dash_duo_mp, lambda s: s["live"] == 2, "two runs live")
    dash_duo_mp.driver.get("about:blank")  # the page is gone (the resume window is 60 s)
    probe.wait_state(dash_duo_mp, lambda s: s.get("closed") == 2 and s["live"] == 0, "both generators closed")


def test_pattern_matching_inputs_start_streams_on_the_shared_downlink(dash_duo_mp):
    app = Flash(__name__)
    app.layout = html.Div([html.Button(f"b{i}", id={"type": "b", "index": i}) for i in range(8)] + [html.Div(id="log")])

    @event_callback(Input({"type": "b", "index": ALL}, "n_clicks"))
    async def clicked(clicks):
        yield stream_props("log", {"children": f"clicks {sum(c or 0 for c in clicks)}"})

    dash_duo_mp.start_server(app)
    for i in range(8):
        dash_duo_mp.find_element(f'#\\{{\\"index\\"\\:{i}\\,\\"type\\"\\:\\"b\\"\\}}').click()
        dash_duo_mp.wait_for_text_to_equal("#log", f"clicks {i + 1}")
    assert dash_duo_mp.get_logs() == []
