"""The streaming examples in Chromium, checked by what a user sees.

Each test imports its example afresh: the examples declare module-level event callbacks, which
land in global registries that tests/conftest.py empties before every test.
"""
from __future__ import annotations

import importlib
import re
import sys

import pytest

from tests.streaming.probe import Probe, running

pytestmark = pytest.mark.browser

CHART_Y_JS = "var gd = document.querySelector('#chart .js-plotly-plot'); return gd && gd.data ? gd.data[0].y.length : 0;"


# Records every text #status shows, with whether Start is disabled and Stop hidden at that moment.
WATCH_STATUS_JS = """
window.statusSeen = [];
var status = document.getElementById('status');
new MutationObserver(function () {
    window.statusSeen.push([status.textContent, document.getElementById('start').disabled,
                            document.getElementById('stop').hidden]);
}).observe(status, {childList: true, characterData: true, subtree: true});
"""


def load_example(name: str):
    sys.modules.pop(f"examples.{name}", None)
    return importlib.import_module(f"examples.{name}")


def set_number(duo, selector: str, value: int) -> None:
    box = duo.find_element(selector)
    duo.clear_input(box)
    box.send_keys(str(value))
    duo.wait_for(lambda: duo.find_element(selector).get_attribute("value") == str(value), msg=f"{selector}={value}")


def loaded(duo) -> int:
    """Rows the status line reports, e.g. 1,200 for "1,200 of 20,000 rows"."""
    text = duo.find_element("#status").text
    return int(text.split()[0].replace(",", "")) if " of " in text else 0


def grid_count(duo) -> int:
    return duo.driver.execute_script("return window.dash_ag_grid.getApi('grid').getDisplayedRowCount();")


def test_stream_table_example(dash_duo_mp):
    example = load_example("stream_table")
    dash_duo_mp.start_server(example.app)
    dash_duo_mp.wait_for_text_to_equal("#status", "Press Start to run the query.")
    set_number(dash_duo_mp, "#rows", 600)
    set_number(dash_duo_mp, "#chunk", 100)

    dash_duo_mp.driver.execute_script(WATCH_STATUS_JS)
    dash_duo_mp.find_element("#start").click()
    dash_duo_mp.wait_for_text_to_equal("#status", "Done: 600 rows.")
    seen = dash_duo_mp.driver.execute_script("return window.statusSeen;")
    assert seen[0] == ["Running the query...", True, False]
    assert ["100 of 600 rows", True, False] in seen  # while running: Start disabled, Stop shown
    progress = [int(text.split()[0]) for text, _, _ in seen if text.endswith("of 600 rows")]
    assert progress == sorted(progress) and len(progress) >= 5  # chunk by chunk
    assert seen[-1] == ["Done: 600 rows.", False, True]
    dash_duo_mp.wait_for(lambda: grid_count(dash_duo_mp) == 600, msg="600 rows in the grid")
    dash_duo_mp.wait_for_element("#start:not([disabled])")
    assert dash_duo_mp.find_element("#stop").get_attribute("hidden") == "true"

    # A long query, stopped after its first chunks: buttons reset, rows stay, nothing runs.
    set_number(dash_duo_mp, "#rows", 20000)
    dash_duo_mp.find_element("#start").click()
    dash_duo_mp.wait_for(lambda: loaded(dash_duo_mp) >= 300, msg="some chunks arrived")
    dash_duo_mp.find_element("#stop").click()
    dash_duo_mp.wait_for_element("#start:not([disabled])")
    assert dash_duo_mp.find_element("#stop").get_attribute("hidden") == "true"
    assert running(dash_duo_mp) == []
    stopped_at = loaded(dash_duo_mp)
    assert 300 <= stopped_at < 20000
    dash_duo_mp.wait_for(lambda: grid_count(dash_duo_mp) == stopped_at, msg="the grid holds the rows received")
    assert dash_duo_mp.get_logs() == []


def test_stock_ticker_example(dash_duo_mp):
    example = load_example("stock_ticker")
    probe = Probe(example.app)
    dash_duo_mp.start_server(example.app)

    def points_beyond(count: int) -> int:
        return dash_duo_mp.wait_for(
            lambda: (n := dash_duo_mp.driver.execute_script(CHART_Y_JS)) > count and n, timeout=10, msg=f"> {count} points"
        )

    dash_duo_mp.wait_for_text_to_equal("#live", "live: ACME")
    points_beyond(points_beyond(3) + 3)  # the ticker page streams by itself
    assert dash_duo_mp.find_element("#price").text.startswith("ACME ")

    dash_duo_mp.select_dcc_dropdown("#symbol", value="GLOBEX")  # another symbol replaces the stream
    dash_duo_mp.wait_for_text_to_equal("#live", "live: GLOBEX")
    dash_duo_mp.wait_for(lambda: dash_duo_mp.find_element("#price").text.startswith("GLOBEX "), msg="GLOBEX ticks")
    probe.wait_state(dash_duo_mp, lambda s: s["live"] == 1, "the ACME run was replaced")

    dash_duo_mp.find_element("#to-about").click()  # another page: the stream stops
    dash_duo_mp.wait_for_text_to_equal("#live", "paused")
    assert dash_duo_mp.find_element("#ticker-page").get_attribute("hidden") == "true"
    probe.wait_state(dash_duo_mp, lambda s: s["live"] == 0, "the server generator is closed")
    assert running(dash_duo_mp) == []

    dash_duo_mp.find_element("#to-ticker").click()  # back: a fresh chart streams again
    dash_duo_mp.wait_for_text_to_equal("#live", "live: GLOBEX")
    points_beyond(3)
    probe.wait_state(dash_duo_mp, lambda s: s["live"] == 1, "one ticker runs")
    assert dash_duo_mp.get_logs() == []


def test_token_stream_example(dash_duo_mp):
    example = load_example("token_stream")
    dash_duo_mp.start_server(example.app)
    prompt = dash_duo_mp.find_element("#prompt")
    dash_duo_mp.clear_input(prompt)
    prompt.send_keys("What is Flash?")
    dash_duo_mp.find_element("#ask").click()

    expected = example.canned_answer("What is Flash?")
    partial = dash_duo_mp.wait_for(
        lambda: (text := dash_duo_mp.find_element("#answer").text) and text != expected and text, msg="a partial answer"
    )
    assert expected.startswith(partial)  # tokens arrive in order
    dash_duo_mp.wait_for_text_to_equal("#answer", expected)
    tokens = len(re.findall(r"\s*\S+", expected))
    dash_duo_mp.wait_for_text_to_equal("#stats", f"Done: {tokens} tokens.")

    # Asking again starts from an empty answer; Stop leaves what arrived and resets the buttons.
    long_prompt = " ".join(["and"] * 80)  # a long answer: ~3 s of tokens
    dash_duo_mp.clear_input(prompt)
    prompt.send_keys(long_prompt)
    dash_duo_mp.find_element("#ask").click()
    expected = example.canned_answer(long_prompt)
    dash_duo_mp.wait_for(
        lambda: dash_duo_mp.find_element("#stats").text.endswith(" tokens")
        and dash_duo_mp.find_element("#stop").get_attribute("hidden") is None,
        msg="streaming again",
    )
    dash_duo_mp.find_element("#stop").click()
    dash_duo_mp.wait_for_element("#ask:not([disabled])")
    assert running(dash_duo_mp) == []
    assert expected.startswith(dash_duo_mp.find_element("#answer").text)
    assert dash_duo_mp.get_logs() == []


def test_live_channel_example_two_windows_one_feed(dash_duo_mp):
    example = load_example("live_channel")
    duo = dash_duo_mp
    duo.start_server(example.app)
    first = duo.driver.current_window_handle
    duo.driver.switch_to.new_window("window")
    duo.driver.get(duo.server_url)
    windows = [first, duo.driver.current_window_handle]

    def visitors_line() -> str:
        text = duo.find_element("#visitors").text
        assert re.fullmatch(r"\d+ visitors online \(\d\d:\d\d:\d\d\)", text), text
        return text

    for window in windows:
        duo.driver.switch_to.window(window)
        duo.wait_for(visitors_line, timeout=20, msg="the shared visitor count shows")
        duo.wait_for_text_to_equal("#chat-status", "live", timeout=20)
    duo.driver.switch_to.window(first)
    box = duo.find_element("#message")
    box.send_keys("hello both")
    duo.find_element("#send").click()
    for window in windows:
        duo.driver.switch_to.window(window)
        duo.wait_for_text_to_equal("#chat-log li", "guest: hello both", timeout=20)
