"""pytest plugin (entry point `flash_testing`): Dash's browser fixtures, served the Flash way.

Fixtures (all override Dash's same-named ones, whatever order the plugins load in):

* ``dash_duo_mp`` - browser + app served by hypercorn (or ``server="uvicorn"``) in a forked
  child process; the app defined in the test function is inherited by the fork.
* ``dash_duo`` - same browser helpers, app served from a thread of the test process, so
  callbacks can mutate test-local objects (what Dash's threaded ``dash_duo`` allows).
* ``dash_multi_process_server`` / ``dash_thread_server`` - the bare runners behind them.
* ``flash_server`` - a process runner without a browser, for HTTP-level tests:
  ``url = flash_server(app)``; ``flash_server.url_for("/_dash-layout")``.

Why a registered object: fixture lookup takes the *last registered* definition of a name, and
entry-point plugins load in an unspecified order. Registering `FlashFixtures` from
`pytest_configure` runs after every entry-point and ``-p`` plugin is loaded, so ours always
come last (a project's ``conftest.py`` can still override them, as usual).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Generator, Iterator

import pytest
from selenium.webdriver.chrome.options import Options as ChromeOptions

from .browser import (
    FlashComposite,
    browser_kwargs,
    chrome_options,
    force_headless,
    use_system_chromedriver,
)
from .runner import FlashRunner, FlashThreadedRunner

FIXTURES_PLUGIN_NAME = "flash_testing_fixtures"
# Browsers opened for a test, also via `request.getfixturevalue` (absent from `item.funcargs`).
BROWSERS_KEY = pytest.StashKey[list]()
_state: dict[str, Any] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Point selenium at Debian's chromedriver, go headless if needed, register the fixtures."""
    _state["config"] = config
    use_system_chromedriver()
    if force_headless() and hasattr(config.option, "headless"):
        config.option.headless = True  # Dash's own fixtures (dash_br, ...) honour it too
    config.addinivalue_line("markers", "browser: runs an app in headless Chromium")
    # selenium 4.2 (pinned by dash[testing]) trips urllib3 2.x deprecations on every command.
    config.addinivalue_line(
        "filterwarnings", "ignore:HTTPResponse.getheader:DeprecationWarning:selenium"
    )
    if not config.pluginmanager.has_plugin(FIXTURES_PLUGIN_NAME):
        config.pluginmanager.register(FlashFixtures(), FIXTURES_PLUGIN_NAME)


@pytest.hookimpl(optionalhook=True)
def pytest_setup_options() -> ChromeOptions | None:
    """Dash's hook (dash.testing.newhooks): Debian Chromium binary and container-safe flags."""
    config = _state.get("config")
    webdriver = config.getoption("webdriver", "Chrome") if config is not None else "Chrome"
    if str(webdriver).lower() != "chrome":
        return None
    return chrome_options()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Screenshot every Flash browser fixture of a failed test into `test-artifacts/`."""
    report = yield
    if report.when == "call" and report.failed:
        browsers = list(item.stash.get(BROWSERS_KEY, []))
        funcargs = getattr(item, "funcargs", {}).values()
        browsers += [value for value in funcargs if isinstance(value, FlashComposite)]
        for browser in dict.fromkeys(browsers):
            browser.take_snapshot(item.name)
    return report


def _composite(request: pytest.FixtureRequest, runner: Any, tmp_path: Path) -> FlashComposite:
    download = tmp_path / "download"
    download.mkdir(exist_ok=True)
    artifacts = Path(request.config.rootpath) / "test-artifacts"
    browser = FlashComposite(
        runner, artifacts_dir=artifacts, **browser_kwargs(request.config, download)
    )
    request.node.stash.setdefault(BROWSERS_KEY, []).append(browser)
    return browser


class FlashFixtures:
    """Holder of the fixtures; registered last so its definitions win (see module doc)."""

    @pytest.fixture
    def dash_thread_server(self) -> Iterator[FlashThreadedRunner]:
        """Serve an app from a thread of the test process (hypercorn/uvicorn)."""
        with FlashThreadedRunner() as runner:
            yield runner

    @pytest.fixture
    def dash_multi_process_server(self) -> Iterator[FlashRunner]:
        """Serve an app from a forked child process (hypercorn/uvicorn)."""
        with FlashRunner() as runner:
            yield runner

    @pytest.fixture
    def flash_server(self) -> Iterator[FlashRunner]:
        """A process runner without a browser: `url = flash_server(app)`."""
        with FlashRunner() as runner:
            yield runner

    @pytest.fixture
    def dash_duo(
        self,
        request: pytest.FixtureRequest,
        dash_thread_server: FlashThreadedRunner,
        tmp_path: Path,
    ) -> Iterator[FlashComposite]:
        """Browser + app served in-process; Dash's `dash_duo` API."""
        with _composite(request, dash_thread_server, tmp_path) as duo:
            yield duo

    @pytest.fixture
    def dash_duo_mp(
        self,
        request: pytest.FixtureRequest,
        dash_multi_process_server: FlashRunner,
        tmp_path: Path,
    ) -> Iterator[FlashComposite]:
        """Browser + app served in its own process; Dash's `dash_duo_mp` API."""
        with _composite(request, dash_multi_process_server, tmp_path) as duo:
            yield duo
