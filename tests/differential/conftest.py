"""Differential tests against Dash 4.5 itself: fixtures that serve one Dash-written app twice,
once by Dash 4.5 (the oracle, in its own venv) and once by Flash (this Python, the app migrated
the README's way), and drive both in the same headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.integration.conftest import AppProcess, app_process, free_port, http_get, http_post_json  # noqa: F401  # app_process: the fixture, reused
from tests.integration.test_migrating_pages import migrate

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
SERVE = HERE / "serve.py"
DASH45_ENV = "FLASH_DASH45_PYTHON"


def dash45_python() -> str:
    """The Dash 4.5 venv's python; the tests fail (not skip) without it."""
    python = os.environ.get(DASH45_ENV) or str(ROOT / ".venv-dash45" / "bin" / "python")
    if not Path(python).is_file():
        pytest.fail(
            f"Dash 4.5 oracle python not found at {python}: run `bash scripts/dash45_venv.sh` "
            f"(creates .venv-dash45 with dash==4.5.0rc2) or set {DASH45_ENV}.",
            pytrace=False,
        )
    return python


@pytest.fixture(scope="session")
def dash45() -> str:
    return dash45_python()


def app_dir(tmp_path: Path, side: str, module: str) -> Path:
    """A directory holding `module`.py and the gate helper: as written for Dash, or migrated."""
    target = tmp_path / side
    target.mkdir(exist_ok=True)
    shutil.copy(APPS / "_testgate.py", target / "_testgate.py")
    source = (APPS / f"{module}.py").read_text()
    (target / f"{module}.py").write_text(migrate(source) if side == "flash" else source)
    return target


# What a step records: each element's text, each button's `disabled`, whether a `?selector` is on
# the page, the dev tools' error count.
SNAPSHOT_JS = """
const out = {};
for (const sel of arguments[0]) {
    if (sel.startsWith('?')) { out[sel] = document.querySelector(sel.slice(1)) !== null; continue; }
    const el = document.querySelector(sel);
    out[sel] = el === null ? null : (el.tagName === 'BUTTON' ? {text: el.innerText, disabled: el.disabled}
                                                              : el.innerText);
}
const errors = document.querySelector('.test-devtools-error-count');
out['devtools errors'] = errors === null ? '0' : errors.innerText;
return out;
"""


@dataclass
class Page:
    """One side's app in the browser, recorded step by step."""

    side: str
    server: AppProcess
    duo: Any
    selectors: list[str]
    steps: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def gate(self) -> dict[str, int]:
        status, body = http_get(self.server.url + "/test-gate/state")
        assert status == 200, body
        return json.loads(body)

    def release(self) -> None:
        status, body = http_post_json(self.server.url + "/test-gate/release", b"{}")
        assert status == 200, body

    def snapshot(self) -> dict[str, Any]:
        return self.duo.driver.execute_script(SNAPSHOT_JS, self.selectors)

    def settled(self, timeout: float = 20) -> dict[str, Any]:
        """The page once it has stopped changing (the same reading over ~0.4 s)."""
        deadline = time.monotonic() + timeout
        last, same = None, 0
        while time.monotonic() < deadline:
            now = self.snapshot()
            same = same + 1 if now == last else 0
            if same >= 4:
                return now
            last = now
            time.sleep(0.1)
        raise AssertionError(f"[{self.side}] the page kept changing: {last}")

    def wait_gate(self, until: Callable[[dict[str, int]], bool], what: str, timeout: float = 20) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        state = self.gate()
        while not until(state):
            if time.monotonic() > deadline:
                raise AssertionError(f"[{self.side}] {what}: gate state {state}\n{self.server.output()[-3000:]}")
            time.sleep(0.05)
            state = self.gate()
        return state

    def record(self, label: str) -> None:
        self.steps.append((label, self.settled()))

    def load(self) -> None:
        self.duo.driver.get(self.server.url + "/")
        self.duo.wait_for_element(next(s for s in self.selectors if not s.startswith("?")), timeout=20)
        self.record("loaded")

    def click(self, selector: str, label: str, until: Callable[[dict[str, int]], bool]) -> None:
        self.duo.find_element(selector).click()
        self.wait_gate(until, label)
        self.record(label)

    def devtools_errors(self) -> None:
        """Open the dev tools' error list and record each error's title (the text Dash shows)."""
        self.duo.find_element(".test-devtools-error-toggle").click()
        self.duo.wait_for_element(".dash-fe-error__title", timeout=10)
        titles = self.duo.driver.execute_script(
            "return Array.from(document.querySelectorAll('.dash-fe-error__title')).map(e => e.innerText)"
        )
        self.steps.append(("dev tools error list", {"titles": titles}))

    def step(self, label: str, until: Callable[[dict[str, int]], bool]) -> None:
        """Let the parked generator run to its next gate (or its end), then record the page."""
        self.release()
        self.wait_gate(until, label)
        self.record(label)


def parked(count: int) -> Callable[[dict[str, int]], bool]:
    """The generators have arrived at their `count`-th gate (all yields before it are out)."""
    return lambda state: state["arrivals"] >= count and state["arrivals"] > state["releases"]


def ended(count: int) -> Callable[[dict[str, int]], bool]:
    return lambda state: state["ends"] >= count


def ready(server: AppProcess, what: str, timeout: float = 60) -> None:
    """Wait until `server` answers the gate's state route; fail at once when it exits instead."""
    deadline = time.monotonic() + timeout
    while True:
        if server.proc.poll() is not None:
            raise AssertionError(f"{what} exited with {server.proc.returncode}:\n{server.output()[-3000:]}")
        try:
            if http_get(server.url + "/test-gate/state", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not serving after {timeout}s:\n{server.output()[-3000:]}")
        time.sleep(0.1)


@pytest.fixture
def differential(
    dash_duo_mp: Any, dash45: str, app_process: Callable[..., AppProcess], tmp_path: Path
) -> Iterator[Callable[[str, list[str]], tuple[Page, Page]]]:
    """`differential(module, selectors)`: both servers started (in parallel), ready, and a `Page`
    for each on the same browser: (dash, flash)."""

    def start(module: str, selectors: list[str]) -> tuple[Page, Page]:
        pages = []
        # FLASH_DASH45_SELFCHECK=1 serves Dash 4.5 on both sides: the harness's own check that
        # every scenario runs, and runs the same twice, on the oracle (the xfailed bugs then XPASS).
        flash_side = ("dash", dash45) if os.environ.get("FLASH_DASH45_SELFCHECK") else ("flash", sys.executable)
        for side, (kind, python) in (("dash", ("dash", dash45)), ("flash", flash_side)):
            directory = app_dir(tmp_path, side, module) if kind == side else app_dir(tmp_path, "dash-again", module)
            server = app_process(
                [python, str(SERVE), kind, str(directory), module, "{port}"], env={"PYTHONPATH": ""}, port=free_port()
            )
            pages.append(Page(side, server, dash_duo_mp, selectors))
        for page in pages:
            ready(page.server, f"the {page.side} server of {module}")
        return pages[0], pages[1]

    yield start
