"""pytest plugin of dash-flash (entry point `flash_testing`): fixtures for Flash apps.

* ``flash_duo_mp`` - Dash's browser helpers (``DashComposite``) on an app served by hypercorn
  (or ``server="uvicorn"``) in a forked child process that inherits the test's app.
* ``flash_duo`` - the same, with the app served from a thread of the test process, so
  callbacks can touch test-local state (like Dash's threaded ``dash_duo``).
* ``flash_thread_server`` - the runner behind ``flash_duo``.
* ``flash_server`` - a process runner without a browser, for HTTP-level tests:
  ``url = flash_server(app)``; ``flash_server.url_for("/_dash-layout")``.
* ``flash_stream_client`` - the stream test harness (`flash.testing.streams.StreamClient`): runs
  an app's streams in process, without a browser, and collects their frames in order:
  ``async with flash_stream_client(app) as client: frames = await client.run(my_stream, n=1)``.

Why a top-level module and not `flash.testing.plugin`: pytest loads every installed plugin in
every session, and importing anything under `flash` imports Flash itself, which adds Flash's
browser client to every Dash app of the process. This module imports neither Flash nor Dash's
testing extras until a test uses one of its fixtures, and defines none of Dash's fixture names
(``dash_duo``, ``dash_thread_server``, ...), so installing Flash never changes how other tests
run. Dash's own ``dash_duo`` serves Flash apps too (``app.run`` honours its shutdown).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Generator, Iterator

import pytest

if TYPE_CHECKING:
    from flash.testing.browser import FlashComposite
    from flash.testing.runner import FlashRunner, FlashThreadedRunner
    from flash.testing.streams import StreamClient

INSTALL_HINT = "pip install 'dash-flash[test]' (or 'dash[testing]')"
# Browsers opened for a test, also via `request.getfixturevalue` (absent from `item.funcargs`).
BROWSERS_KEY = pytest.StashKey[list["FlashComposite"]]()


def _fixtures() -> ModuleType:
    """`flash.testing.fixtures`, or a test error naming the missing testing dependency."""
    try:
        return importlib.import_module("flash.testing.fixtures")
    except ImportError as error:
        missing = error.name or ""
        if missing == "flash" or missing.startswith("flash."):
            raise
        pytest.fail(
            f"Flash's test fixtures need Dash's testing extras ({error}): {INSTALL_HINT}",
            pytrace=False,
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    help_text = (
        "Flash's browser fixtures (flash_duo, flash_duo_mp) keep one Chromium per process and "
        "reset it between tests instead of starting one per test (flash.testing.reuse)"
    )
    parser.addini("flash_reuse_browser", help_text, type="bool", default=False)
    parser.addoption("--flash-reuse-browser", action="store_true", default=False, help=help_text)


def _reuse(config: pytest.Config) -> bool:
    return bool(config.getoption("flash_reuse_browser") or config.getini("flash_reuse_browser"))


def _browser(request: pytest.FixtureRequest, runner: object, tmp_path: Path) -> "FlashComposite":
    browser: FlashComposite = _fixtures().open_browser(request.config, runner, tmp_path, reuse=_reuse(request.config))
    request.node.stash.setdefault(BROWSERS_KEY, []).append(browser)
    return browser


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Screenshot every Flash browser of a failed test into `test-artifacts/`; a browser whose
    test failed is never reused (the next test starts a new one)."""
    report = yield
    if report.failed:
        browsers = item.stash[BROWSERS_KEY] if BROWSERS_KEY in item.stash else []
        for browser in dict.fromkeys(browsers):
            browser.reusable = False
            if report.when == "call":
                browser.take_snapshot(item.name)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Quit the browsers kept for reuse (only if a test used one: nothing is imported here)."""
    reuse = sys.modules.get("flash.testing.reuse")
    if reuse is not None:
        reuse.KEEPER.close()


@pytest.fixture
def flash_thread_server() -> Iterator["FlashThreadedRunner"]:
    """Serve an app from a thread of the test process (hypercorn/uvicorn)."""
    with _fixtures().FlashThreadedRunner() as runner:
        yield runner


@pytest.fixture
def flash_server() -> Iterator["FlashRunner"]:
    """A process runner without a browser: `url = flash_server(app)`."""
    with _fixtures().FlashRunner() as runner:
        yield runner


@pytest.fixture
def flash_stream_client() -> Iterator["StreamClient"]:
    """A `StreamClient` to bind to an app: `flash_stream_client(app)` (more apps: more workers on
    one Redis). Use it as `async with`; one left open is closed here if its event loop still can."""
    client = _fixtures().StreamClient()
    yield client
    client.close_leftover()


@pytest.fixture
def flash_duo(
    request: pytest.FixtureRequest, flash_thread_server: "FlashThreadedRunner", tmp_path: Path
) -> Iterator["FlashComposite"]:
    """Browser + app served in-process; Dash's `dash_duo` API."""
    with _browser(request, flash_thread_server, tmp_path) as duo:
        yield duo


@pytest.fixture
def flash_duo_mp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator["FlashComposite"]:
    """Browser + app served in its own process; Dash's `dash_duo_mp` API."""
    with _fixtures().FlashRunner() as runner, _browser(request, runner, tmp_path) as duo:
        yield duo
