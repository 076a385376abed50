"""Every app in examples/ runs and does what it says, in a real browser.

Examples register callbacks with module-level `@callback` (Dash's global registry, which
tests/conftest.py clears before each test), so each test imports its example fresh.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from flash import Flash
from flash.testing import FlashComposite

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def load_example() -> Iterator[Callable[[str], Flash]]:
    """`load_example("basic")` executes examples/basic.py as a fresh module and returns its app."""
    loaded: list[str] = []

    def load(name: str) -> Flash:
        module_name = f"flash_example_{name}"
        spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # Dash looks the app's module up (assets, pages)
        loaded.append(module_name)
        spec.loader.exec_module(module)
        return module.app

    yield load
    for module_name in loaded:
        sys.modules.pop(module_name, None)


@pytest.mark.browser
def test_basic_example(dash_duo_mp: FlashComposite, load_example: Callable[[str], Flash]) -> None:
    dash_duo_mp.start_server(load_example("basic"))
    dash_duo_mp.wait_for_text_to_equal("#my-output", "Output: initial value")
    dash_duo_mp.clear_input("#my-input")
    dash_duo_mp.find_element("#my-input").send_keys("Flash is fast")
    dash_duo_mp.wait_for_text_to_equal("#my-output", "Output: Flash is fast")
    assert dash_duo_mp.get_logs() == []


def _seconds(text: str) -> float:
    match = re.search(r"took ([0-9.]+) s$", text)
    assert match, text
    return float(match.group(1))


@pytest.mark.browser
def test_async_gather_example(dash_duo_mp: FlashComposite, load_example: Callable[[str], Flash]) -> None:
    duo = dash_duo_mp
    duo.start_server(load_example("async_gather"))
    duo.find_element("#sync-button").click()
    duo.find_element("#async-button").click()
    # The async result arrives while the sync callback is still busy in its thread.
    duo.wait_for(lambda: duo.find_element("#async-result").text.startswith("async: 3 calls took"), timeout=10)
    duo.wait_for(lambda: duo.find_element("#sync-result").text.startswith("sync: 3 calls took"), timeout=15)
    sync_seconds = _seconds(duo.find_element("#sync-result").text)
    async_seconds = _seconds(duo.find_element("#async-result").text)
    # What the page shows: the three waits add up in sync, overlap in async (a relation between
    # the two figures the example reports, not a bound on how fast this machine is).
    assert async_seconds < sync_seconds, (async_seconds, sync_seconds)
    assert duo.get_logs() == []


@pytest.mark.browser
def test_pages_example(dash_duo_mp: FlashComposite, load_example: Callable[[str], Flash]) -> None:
    duo = dash_duo_mp
    duo.start_server(load_example("pages_app"))

    def expect(heading: str, title: str) -> None:
        duo.wait_for_text_to_equal("#page-title", heading)
        duo.wait_for(lambda: duo.driver.title == title, timeout=5, msg=f"title {title!r}")

    expect("Home", "Weather")
    duo.find_element("#link-paris").click()
    expect("Weather in Paris", "Paris weather")
    duo.wait_for_text_to_equal("#units", "Showing metric units.")
    duo.find_element("#link-oslo").click()
    expect("Weather in Oslo", "Oslo weather")
    duo.wait_for_text_to_equal("#units", "Showing imperial units.")
    duo.find_element("#link-about").click()
    expect("About", "About")
    duo.find_element("#link-home").click()
    expect("Home", "Weather")
    assert duo.get_logs() == []


def test_basic_example_runs_as_a_script(app_process: Callable[..., Any]) -> None:
    """`python examples/basic.py` (app.run(debug=True) on $PORT) serves the page and callback."""
    server = app_process([sys.executable, str(EXAMPLES / "basic.py")])
    server.wait_until("/", lambda status, body: status == 200 and "react-entry-point" in body)
    body = {
        "output": "my-output.children",
        "outputs": {"id": "my-output", "property": "children"},
        "inputs": [{"id": "my-input", "property": "value", "value": "hi"}],
        "changedPropIds": ["my-input.value"],
    }
    status, answer = server.post_json("/_dash-update-component", json.dumps(body).encode())
    assert status == 200, answer
    assert json.loads(answer)["response"] == {"my-output": {"children": "Output: hi"}}
