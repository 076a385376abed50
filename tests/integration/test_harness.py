"""The test harness itself: runners, Chromium setup, and Flash's fixtures beside Dash's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from flash import Flash, Input, Output, dcc, html
from flash.testing import (
    CHROMIUM_FLAGS,
    FlashComposite,
    FlashRunner,
    FlashServerError,
    FlashThreadedRunner,
    wait_for,
)
from flash.testing.browser import browser_options


def make_counter_app() -> Flash:
    """A button whose clicks are echoed into a div by a server-side callback."""
    app = Flash(__name__)
    app.layout = html.Div(
        [
            html.Button("Click", id="btn", n_clicks=0),
            html.Div("not clicked", id="out"),
            dcc.Store(id="store"),
        ]
    )

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
    async def echo(n_clicks: int) -> str:
        return f"clicked {n_clicks}" if n_clicks else "not clicked"

    return app


@pytest.mark.browser
def test_flash_duo_mp_renders_and_runs_callbacks(flash_duo_mp: FlashComposite) -> None:
    assert isinstance(flash_duo_mp, FlashComposite)
    assert type(flash_duo_mp.server) is FlashRunner  # noqa: E721 - exactly the process runner

    flash_duo_mp.start_server(make_counter_app())

    flash_duo_mp.wait_for_text_to_equal("#out", "not clicked")
    flash_duo_mp.find_element("#btn").click()
    flash_duo_mp.wait_for_text_to_equal("#out", "clicked 1")
    flash_duo_mp.multiple_click("#btn", 2)
    flash_duo_mp.wait_for_text_to_equal("#out", "clicked 3")
    assert flash_duo_mp.server.proc.pid != os.getpid()
    assert flash_duo_mp.server_url.startswith("http://127.0.0.1:")
    assert flash_duo_mp.get_logs() == []


@pytest.mark.browser
def test_flash_duo_serves_in_process(flash_duo: FlashComposite) -> None:
    """The threaded `flash_duo` lets callbacks mutate test-local state, like Dash's `dash_duo`."""
    assert isinstance(flash_duo.server, FlashThreadedRunner)
    seen: list[int] = []
    app = Flash(__name__)
    app.layout = html.Div([html.Button("go", id="btn"), html.Div(id="out")])

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"), prevent_initial_call=True)
    def record(n_clicks: int) -> str:
        seen.append(n_clicks)
        return f"seen {len(seen)}"

    flash_duo.start_server(app)
    flash_duo.find_element("#btn").click()
    flash_duo.wait_for_text_to_equal("#out", "seen 1")
    assert seen == [1]
    assert flash_duo.get_logs() == []


@pytest.mark.browser
def test_uvicorn_and_dev_tools_error_ui(flash_duo_mp: FlashComposite) -> None:
    """`server="uvicorn"` works and `debug=True` turns on the dev tools error popup."""
    app = Flash(__name__)
    app.layout = html.Div([html.Button("boom", id="btn"), html.Div(id="out")])

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"), prevent_initial_call=True)
    async def explode(n_clicks: int) -> str:
        raise RuntimeError("kaboom")

    flash_duo_mp.start_server(app, server="uvicorn", debug=True, use_reloader=False)
    assert flash_duo_mp.server.server_kind == "uvicorn"
    flash_duo_mp.wait_for_element(".dash-debug-menu__outer")
    flash_duo_mp.find_element("#btn").click()
    flash_duo_mp.wait_for_text_to_equal(flash_duo_mp.devtools_error_count_locator, "1")


def test_flash_server_http_level(flash_server: FlashRunner) -> None:
    url = flash_server(make_counter_app())
    assert url == flash_server.url
    with urllib.request.urlopen(flash_server.url_for("/_dash-layout"), timeout=5) as response:
        layout = json.loads(response.read())
    assert layout["props"]["children"][1]["props"]["id"] == "out"
    wait_for(lambda: flash_server.proc.is_alive(), timeout=1)


def test_each_start_gets_its_own_port() -> None:
    with FlashRunner() as first, FlashRunner() as second:
        first(make_counter_app())
        second(make_counter_app())
        assert first.port != second.port


def test_dead_server_reports_exit_code() -> None:
    app = make_counter_app()

    async def dies_at_startup(scope, receive, send):  # type: ignore[no-untyped-def]
        os._exit(3)

    app.server = dies_at_startup  # type: ignore[assignment]
    with FlashRunner() as runner, pytest.raises(FlashServerError, match="exited with code 3"):
        runner(app, start_timeout=10)
    assert runner.proc is None and not runner.started


def test_unknown_start_option_is_rejected() -> None:
    with FlashRunner() as runner, pytest.raises(TypeError, match="no_such_option"):
        runner(make_counter_app(), no_such_option=1)
    with FlashRunner() as runner, pytest.raises(TypeError, match="dev_tools_nope"):
        runner(make_counter_app(), dev_tools_nope=True)


def test_flash_browser_options_use_debian_chromium(request: pytest.FixtureRequest) -> None:
    first = browser_options(request.config)[0]
    assert first.binary_location == "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        assert flag in first.arguments


CHECK_FIXTURES = """
from dash.testing.application_runners import ThreadedRunner
from flash.testing import FlashThreadedRunner, FlashRunner

def test_winner(request, dash_thread_server, flash_thread_server, flash_server):
    fm = request._fixturemanager
    for name in ("dash_duo", "dash_duo_mp", "dash_thread_server", "dash_multi_process_server"):
        defs = fm.getfixturedefs(name, request.node)
        assert [d.func.__module__ for d in defs] == ["dash.testing.plugin"], (name, defs)
    for name in ("flash_duo", "flash_duo_mp", "flash_thread_server", "flash_server"):
        defs = fm.getfixturedefs(name, request.node)
        assert [d.func.__module__ for d in defs] == ["flash_pytest"], (name, defs)
    assert type(dash_thread_server) is ThreadedRunner
    assert isinstance(flash_thread_server, FlashThreadedRunner)
    assert type(flash_server) is FlashRunner
"""


@pytest.mark.parametrize(
    "plugin_args",
    [
        [],  # normal entry-point autoloading
        ["-p", "dash.testing.plugin", "-p", "flash_pytest"],
        ["-p", "flash_pytest", "-p", "dash.testing.plugin"],
    ],
    ids=["autoload", "dash-first", "flash-first"],
)
def test_dash_fixtures_stay_dashs_in_any_load_order(tmp_path: Path, plugin_args: list[str]) -> None:
    """Flash's plugin adds `flash_*` fixtures and leaves every one of Dash's names to Dash."""
    (tmp_path / "test_check.py").write_text(textwrap.dedent(CHECK_FIXTURES))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = dict(os.environ)
    if plugin_args:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin_args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


FAILING_BROWSER_TEST = """
from flash import Flash, html

def test_broken_page(flash_duo_mp):
    app = Flash(__name__)
    app.layout = html.Div("hello", id="x")
    flash_duo_mp.start_server(app)
    flash_duo_mp.wait_for_text_to_equal("#x", "never", timeout=0.5)
"""


@pytest.mark.browser
def test_failed_browser_test_leaves_screenshot(tmp_path: Path) -> None:
    (tmp_path / "test_broken.py").write_text(textwrap.dedent(FAILING_BROWSER_TEST))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert (tmp_path / "test-artifacts" / "test_broken_page.png").stat().st_size > 0
    assert "hello" in (tmp_path / "test-artifacts" / "test_broken_page.html").read_text()


def test_wait_for_reports_the_last_error() -> None:
    def never() -> bool:
        raise AssertionError("still 0")

    with pytest.raises(Exception, match="counter not met within 0.2s.*still 0"):
        wait_for(never, timeout=0.2, msg="counter")
    assert wait_for(lambda: 42, timeout=0.2) == 42
