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
    """Markdown grows batch by batch, Stop halts it mid-answer, Regenerate starts over."""
    example = load_example("token_stream")
    duo = dash_duo_mp
    probe = Probe(example.app)
    duo.start_server(example.app)
    duo.wait_for_element("#answer")

    # The Markdown source the renderer holds (what the Patches built), and every rendered length.
    def source():
        return duo.driver.execute_script("return window.dash_component_api.getLayout('answer').props.children;")

    duo.driver.execute_script(
        "window.answerSeen = []; var a = document.getElementById('answer');"
        "new MutationObserver(function () { window.answerSeen.push(a.textContent.length); })"
        ".observe(a, {childList: true, characterData: true, subtree: true});"
    )

    def seen():
        return duo.driver.execute_script("return window.answerSeen.splice(0);")

    prompt = duo.find_element("#prompt")
    duo.clear_input(prompt)
    prompt.send_keys("What is Flash?")
    question = "What is Flash?"

    # Fast (~400 tokens/s): the whole answer arrives, in order, in several steps, rendered.
    duo.find_element("#speed input[value='fast']").click()
    duo.find_element("#ask").click()
    first = example.fake_answer(question, 1)
    duo.wait_for(lambda: source() == first, msg="the whole first answer")
    tokens = len(example.tokens_of(first))
    done = duo.wait_for(lambda: (t := duo.find_element("#stats").text).startswith("Done:") and t, msg="done")
    assert done.startswith(f"Done: answer 1, {tokens} tokens in "), done
    assert len(set(seen())) >= 5  # rendered in several steps, not all at once
    assert duo.find_element("#answer blockquote").text == question
    assert duo.find_element("#answer h3").text == "Why stream the answer?"
    assert len(duo.find_elements("#answer li")) == 3
    assert duo.find_element("#stop").get_attribute("hidden") == "true"

    # Realistic speed, stopped after a few words: the run ends on the server, the text stays.
    duo.find_element("#speed input[value='realistic']").click()
    duo.find_element("#ask").click()
    intro = f"> {question}\n\n### Why stream the answer?\n\nA language"
    duo.wait_for(lambda: (s := source()).startswith(intro) and first.startswith(s) and s != first, msg="a partial answer")
    duo.find_element("#stop").click()
    duo.wait_for_text_to_equal("#stats", "Stopped.")
    duo.wait_for_element("#ask:not([disabled])")
    probe.wait_state(duo, lambda state: state["live"] == 0, msg="the run closed on the server")
    assert running(duo) == []
    stopped = source()
    assert first.startswith(stopped) and stopped != first

    def rendered():
        return duo.driver.execute_script("return document.getElementById('answer').textContent.length;")

    # Regenerate: the next answer replaces the stopped one from its start; Regenerate again
    # mid-stream replaces that run, and the third answer runs to its end.
    before = rendered()
    seen()
    duo.find_element("#regenerate").click()
    second = example.fake_answer(question, 2)
    duo.wait_for(
        lambda: (s := source()).startswith(f"> {question}\n\n### How this page streams\n\nEach") and second.startswith(s),
        msg="the second answer streaming",
    )
    assert min(seen()) < before  # the text shrank: the stopped answer was replaced, not extended
    duo.find_element("#speed input[value='fast']").click()
    duo.find_element("#regenerate").click()
    third = example.fake_answer(question, 3)
    duo.wait_for(lambda: source() == third, msg="the whole third answer")  # not appended to the second
    duo.wait_for(lambda: duo.find_element("#stats").text.startswith("Done: answer 3, "), msg="third done")
    duo.wait_for_element("#ask:not([disabled])")
    probe.wait_state(duo, lambda state: state["live"] == 0, msg="no run left")
    assert duo.get_logs() == []


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
