"""Installing Flash leaves other tests alone, and Dash's own fixtures serve Flash apps.

- `pip install dash-flash pytest` (no `[test]` extra) then `pytest` works: a throwaway venv.
- Dash's fixture names (`dash_duo`, `dash_thread_server`, ...) keep Dash's behaviour for a
  plain `dash.Dash` app: a separate pytest run in a project of its own, as a user's would be.
- Dash's `ThreadedRunner` (behind `dash_duo`) starts a Flash app and stops it through the
  backend's shutdown event: the server thread ends and the port is free.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import dash
import pytest
from dash.testing.application_runners import ThreadedRunner

from flash import Flash, Input, Output, html

ROOT = Path(__file__).resolve().parents[2]
# What `pip install` needs of the checkout: the metadata and the two importable things.
SOURCES = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "flash_pytest.py", "flash")
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str) -> tuple[int, str]:
    with _OPENER.open(url, timeout=10) as response:
        return response.status, response.read().decode()


def _port_is_free(port: int) -> bool:
    """Whether a new listener can bind `port` (SO_REUSEADDR: TIME_WAIT leftovers don't count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _run_pytest(
    python: str, project: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    (project / "pytest.ini").write_text("[pytest]\n")
    return subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- a project without the test extra ----------------------------------------------------
PLAIN_TEST = """
import os
import sys


def test_plain(request):
    assert request.config.pluginmanager.has_plugin("flash_testing")  # Flash's plugin did load,
    assert "flash" not in sys.modules  # ... without importing Flash
    assert "selenium" not in sys.modules
    assert os.environ["PATH"] == os.environ["EXPECTED_PATH"]
    assert 1 + 1 == 2
"""

USES_FLASH_DUO = """
def test_needs_a_browser(flash_duo):
    pass
"""


@pytest.mark.timeout(300)
def test_pytest_runs_in_a_venv_without_the_test_extra(tmp_path: Path) -> None:
    """A plain venv (not --system-site-packages: it would see the test dependencies) with
    `pip install <checkout> pytest`; pip's cache keeps the second run fast."""
    source = tmp_path / "src"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(source), "pytest"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    missing = subprocess.run([python, "-c", "import selenium"], capture_output=True, check=False)
    assert missing.returncode != 0, "the venv has selenium: the test would prove nothing"

    project = tmp_path / "project"
    project.mkdir()
    (project / "test_plain.py").write_text(PLAIN_TEST)
    env = {**os.environ, "EXPECTED_PATH": os.environ["PATH"], "CI": "true"}
    env.pop("PYTEST_ADDOPTS", None)
    result = _run_pytest(python, project, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout

    # Asking for a Flash fixture there says what to install (and fails only that test).
    (project / "test_duo.py").write_text(USES_FLASH_DUO)
    result = _run_pytest(python, project, "test_duo.py", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout
    assert "pip install 'dash-flash[test]'" in result.stdout


# --- Dash's fixtures stay Dash's ------------------------------------------------------------
DASH_FIXTURES_TEST = """
import os
import sys
import urllib.request

import dash
from dash import html
from dash.testing.application_runners import MultiProcessRunner, ThreadedRunner

DASH_NAMES = ("dash_duo", "dash_duo_mp", "dash_br", "dash_thread_server",
              "dash_multi_process_server", "dash_process_server")


def test_dash_fixtures_are_dashs(request, dash_thread_server, dash_multi_process_server):
    for name in DASH_NAMES:
        defs = request._fixturemanager.getfixturedefs(name, request.node)
        assert [d.func.__module__ for d in defs] == ["dash.testing.plugin"], (name, defs)
    assert type(dash_thread_server) is ThreadedRunner
    assert type(dash_multi_process_server) is MultiProcessRunner
    assert request.config.option.headless is False  # CI=true, no display: still not forced
    assert os.environ["PATH"] == os.environ["EXPECTED_PATH"]

    app = dash.Dash(__name__)
    app.layout = html.Div("plain", id="x")
    dash_thread_server(app)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    page = opener.open(dash_thread_server.url, timeout=10).read().decode()
    assert "_dash-component-suites/dash/" in page
    assert "flash" not in page  # no Flash client script in a plain Dash page
    assert "flash" not in sys.modules
"""

DASH_DUO_TEST = """
import sys

import dash
from dash import Input, Output, html
from dash.testing.application_runners import ThreadedRunner
from dash.testing.composite import DashComposite


def test_plain_app_under_dash_duo(dash_duo):
    assert type(dash_duo) is DashComposite
    assert type(dash_duo.server) is ThreadedRunner
    app = dash.Dash(__name__)
    app.layout = html.Div([html.Button("go", id="btn"), html.Div("plain", id="out")])

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"), prevent_initial_call=True)
    def clicked(n_clicks):
        return f"clicked {n_clicks}"

    dash_duo.start_server(app)
    dash_duo.wait_for_text_to_equal("#out", "plain")
    dash_duo.find_element("#btn").click()
    dash_duo.wait_for_text_to_equal("#out", "clicked 1")
    scripts = [s.get_attribute("src") for s in dash_duo.find_elements("script[src]")]
    assert scripts and not [src for src in scripts if "flash" in src]
    assert dash_duo.get_logs() == []
    assert "flash" not in sys.modules
"""


def _plain_env() -> dict[str, str]:
    env = {**os.environ, "EXPECTED_PATH": os.environ["PATH"], "CI": "true"}
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    return env


def test_dash_fixtures_keep_dashs_behaviour_with_flash_installed(tmp_path: Path) -> None:
    (tmp_path / "test_dash_fixtures.py").write_text(textwrap.dedent(DASH_FIXTURES_TEST))
    result = _run_pytest(sys.executable, tmp_path, env=_plain_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


@pytest.mark.browser
def test_plain_dash_app_under_dash_duo_with_flash_installed(tmp_path: Path) -> None:
    (tmp_path / "test_dash_duo.py").write_text(textwrap.dedent(DASH_DUO_TEST))
    result = _run_pytest(sys.executable, tmp_path, "--headless", env=_plain_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


# --- Dash's threaded runner serves and stops Flash apps ------------------------------------
def _flash_counter() -> Flash:
    app = Flash(__name__)
    app.layout = html.Div([html.Button("go", id="btn"), html.Div("idle", id="out")])

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"), prevent_initial_call=True)
    async def clicked(n_clicks: int) -> str:
        return f"clicked {n_clicks}"

    return app


def test_dash_threaded_runner_starts_and_stops_a_flash_app() -> None:
    app = _flash_counter()
    runner = ThreadedRunner()
    runner.start(app, start_timeout=15)
    try:
        status, body = _get(f"{runner.url}/_dash-layout")
        assert status == 200 and '"out"' in body
        port, thread = runner.port, runner.thread
        assert thread is not None and thread.is_alive() and not _port_is_free(port)
    finally:
        runner.stop()  # sets app.backend's shutdown event on the server's loop, joins the thread
    assert app.backend._ws_shutdown_event is not None and app.backend._ws_shutdown_event.is_set()
    assert not thread.is_alive(), "app.run() ignored the runner's shutdown event"
    assert _port_is_free(port)


@pytest.mark.browser
def test_dash_duo_drives_and_stops_a_flash_app(dash_duo) -> None:  # type: ignore[no-untyped-def]
    """Dash's own `dash_duo` (this suite does not replace it) runs a Flash app end to end."""
    assert type(dash_duo.server) is ThreadedRunner
    app = _flash_counter()
    dash_duo.start_server(app)
    dash_duo.wait_for_text_to_equal("#out", "idle")
    dash_duo.find_element("#btn").click()
    dash_duo.wait_for_text_to_equal("#out", "clicked 1")
    assert dash_duo.get_logs() == []
    port, thread = dash_duo.server.port, dash_duo.server.thread
    dash_duo.server.stop()
    assert not thread.is_alive(), "app.run() ignored the runner's shutdown event"
    assert _port_is_free(port)


# --- Flash's class body does not look `dash.Dash` up at call time ---------------------------
def test_flash_works_while_a_harness_patches_dash_Dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Harnesses that run Dash-written tests against Flash set `dash.Dash = Flash`."""
    monkeypatch.setattr(dash, "Dash", Flash)
    app = Flash(__name__)
    app.layout = html.Div([html.Button("go", id="btn"), html.Div(id="out")])

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
    def echo(n_clicks: int | None) -> str:
        return str(n_clicks)

    assert app.layout.children[1].id == "out"
    assert "out.children" in app.callback_map
