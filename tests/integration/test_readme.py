"""The README's code blocks, and the docs' it links to, are real apps: run them in Chromium
exactly as printed. (test_readme_examples.py runs every marked example once, without a browser.)"""

import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def readme_app(heading: str, doc: Path = README):
    """Exec the first ```python block under `heading` of `doc` as a fresh module; return its app."""
    text = doc.read_text()
    section = text.split(heading, 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    module = types.ModuleType(f"readme_{abs(hash(heading))}")
    module.__file__ = str(doc)
    sys.modules[module.__name__] = module
    exec(compile(code, str(doc), "exec"), module.__dict__)  # noqa: S102 - our own README
    return module.app


@pytest.mark.browser
def test_readme_basic_app(dash_duo_mp):
    dash_duo_mp.start_server(readme_app("## A basic app"))
    dash_duo_mp.wait_for_text_to_equal("#greeting", "Hello, world!")
    box = dash_duo_mp.find_element("#name")
    box.send_keys("!")
    dash_duo_mp.wait_for_text_to_equal("#greeting", "Hello, world!!")
    assert dash_duo_mp.get_logs() == []


@pytest.mark.browser
def test_readme_streaming_app_streams_and_stops(dash_duo_mp):
    app = readme_app("## A stream")
    dash_duo_mp.start_server(app)
    rows = dash_duo_mp.find_element("#rows")
    rows.clear()
    rows.send_keys("3")
    dash_duo_mp.find_element("#start").click()
    dash_duo_mp.wait_for_text_to_equal("#items li:nth-child(1)", "row 0", timeout=5)
    assert dash_duo_mp.find_element("#start").get_attribute("disabled") == "true"
    dash_duo_mp.wait_for_text_to_equal("#status", "done", timeout=8)
    assert len(dash_duo_mp.find_elements("#items li")) == 3
    assert dash_duo_mp.find_element("#start").get_attribute("disabled") is None

    # Start again with many rows, then stop: the stream closes and reset_props applies.
    rows.clear()
    rows.send_keys("50")
    dash_duo_mp.find_element("#start").click()
    dash_duo_mp.wait_for_text_to_equal("#items li:nth-child(1)", "row 0", timeout=5)
    dash_duo_mp.find_element("#stop").click()
    dash_duo_mp.wait_for_element("#start:not([disabled])", timeout=5)
    stopped_at = len(dash_duo_mp.find_elements("#items li"))
    assert stopped_at < 50
    assert dash_duo_mp.find_element("#stop").get_attribute("hidden") == "true"
    assert dash_duo_mp.driver.execute_script("return window.flash.running()") == []


@pytest.mark.browser
def test_readme_shared_storage_app_counts_and_feeds(dash_duo_mp):
    app = readme_app("# Shared storage", ROOT / "docs" / "shared-storage.md")
    app.shared_storage.delete("clicks")  # the default namespace is per checkout: start from zero
    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#watch").click()
    dash_duo_mp.wait_for_text_to_equal("#feed li", "watching...", timeout=5)  # it has subscribed
    for total in (1, 2):
        dash_duo_mp.find_element("#click").click()
        dash_duo_mp.wait_for_text_to_equal("#count", f"{total} clicks", timeout=5)
        dash_duo_mp.wait_for_text_to_equal("#feed li:nth-child(1)", f"click #{total}", timeout=5)
    assert [li.text for li in dash_duo_mp.find_elements("#feed li")] == ["click #2", "click #1"]
    assert app.shared_storage.get("clicks") == 2
    assert dash_duo_mp.get_logs() == []


@pytest.mark.browser
def test_readme_dash45_streaming_callback_runs_as_printed(dash_duo_mp):
    """The Dash 4.5 example runs as printed (its token source used to be left undefined)."""
    dash_duo_mp.start_server(readme_app("### Dash 4.5 streaming callbacks", ROOT / "docs" / "streaming.md"))
    dash_duo_mp.wait_for_text_to_equal("#status", "Ready")
    dash_duo_mp.find_element("#ask").click()
    dash_duo_mp.wait_for_text_to_equal("#status", "Done")
    assert dash_duo_mp.find_element("#answer").text.strip() == "Each token reaches the page as it comes."
    assert dash_duo_mp.get_logs() == []
