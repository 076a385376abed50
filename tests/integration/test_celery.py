"""Background callbacks with `CeleryManager` on a real Celery worker and a real redis-server.

The app lives in a module file that the worker imports too (Celery registers one task per
background callback on both sides). The test starts `redis-server` on a free port, a Celery
worker (prefork, one child, so that cancel can terminate a running job), and the Flash app in
Chromium; every process is stopped at the end.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator

import psutil
import pytest

from flash.testing import FlashComposite, wait_for
from tests.integration.conftest import process_gone, run_background_job

REPO = Path(__file__).resolve().parents[2]
MODULE = "celery_flash_app"

APP_SOURCE = """
import asyncio
import os
import time
from pathlib import Path

from celery import Celery

from flash import CeleryManager, Flash, Input, Output, html, set_props

REDIS_URL = os.environ["FLASH_TEST_REDIS_URL"]
PID_DIR = Path(os.environ["FLASH_TEST_PID_DIR"])
celery_app = Celery(__name__, broker=REDIS_URL, backend=REDIS_URL)
app = Flash(__name__, background_callback_manager=CeleryManager(celery_app))
app.layout = html.Div([
    html.Button("run sync", id="run-sync"),
    html.Button("run async", id="run-async"),
    html.Button("cancel", id="cancel", disabled=True),
    html.Div("no progress", id="progress"),
    html.Div("not run", id="result"),
    html.Div("untouched", id="side"),
])
STEPS = int(os.environ.get("FLASH_TEST_STEPS", "3"))
common = dict(
    background=True,
    progress=[Output("progress", "children")],
    running=[(Output("run-sync", "disabled"), True, False), (Output("cancel", "disabled"), False, True)],
    cancel=[Input("cancel", "n_clicks")],
    interval=200,
    prevent_initial_call=True,
)


@app.callback(Output("result", "children"), Input("run-sync", "n_clicks"), **common)
def sync_job(set_progress, n_clicks):
    (PID_DIR / "sync.pid").write_text(str(os.getpid()))
    for step in range(1, STEPS + 1):
        time.sleep(0.3)
        set_progress(f"sync step {step}/{STEPS}")
    set_props("side", {"children": f"sync set_props {n_clicks}"})
    return f"sync result {n_clicks}"


@app.callback(Output("result", "children", allow_duplicate=True), Input("run-async", "n_clicks"), **common)
async def async_job(set_progress, n_clicks):
    (PID_DIR / "async.pid").write_text(str(os.getpid()))
    for step in range(1, STEPS + 1):
        await asyncio.sleep(0.3)
        set_progress(f"async step {step}/{STEPS}")
    set_props("side", {"children": f"async set_props {n_clicks}"})
    return f"async result {n_clicks}"
"""


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        for child in psutil.Process(proc.pid).children(recursive=True):
            child.kill()
        proc.kill()
    proc.wait(10)


def _setup(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch, steps: int) -> dict[str, str]:
    (tmp_path / f"{MODULE}.py").write_text(textwrap.dedent(APP_SOURCE))
    env = {"FLASH_TEST_REDIS_URL": redis_url, "FLASH_TEST_PID_DIR": str(tmp_path), "FLASH_TEST_STEPS": str(steps)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(tmp_path))
    return env


@pytest.fixture
def celery_worker(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], subprocess.Popen]]:
    procs: list[subprocess.Popen] = []

    def start(env: dict[str, str]) -> subprocess.Popen:
        log = tmp_path / "worker.log"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                f"{MODULE}:celery_app",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=tmp_path,
            env={**os.environ, **env, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append(proc)
        wait_for(lambda: proc.poll() is not None or b"ready." in log.read_bytes(), timeout=60, msg="Celery worker ready")
        assert proc.poll() is None, log.read_text()
        return proc

    yield start
    for proc in procs:
        _stop(proc)


def _import_app() -> ModuleType:
    sys.modules.pop(MODULE, None)
    return importlib.import_module(MODULE)


@pytest.mark.browser
def test_celery_worker_runs_sync_and_async_jobs_with_progress_and_set_props(
    dash_duo_mp: FlashComposite, tmp_path: Path, redis_url: str, celery_worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _setup(tmp_path, redis_url, monkeypatch, steps=3)
    worker = celery_worker(env)
    duo = dash_duo_mp
    duo.start_server(_import_app().app)
    worker_pids = {worker.pid, *(c.pid for c in psutil.Process(worker.pid).children(recursive=True))}

    for kind in ("sync", "async"):
        run_background_job(duo, kind)
        assert int((tmp_path / f"{kind}.pid").read_text()) in worker_pids  # ran in the Celery worker
    assert duo.get_logs() == []


@pytest.mark.browser
def test_cancel_terminates_a_running_celery_job(
    dash_duo_mp: FlashComposite, tmp_path: Path, redis_url: str, celery_worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _setup(tmp_path, redis_url, monkeypatch, steps=100)
    celery_worker(env)
    duo = dash_duo_mp
    duo.start_server(_import_app().app)
    duo.find_element("#run-sync").click()
    duo.wait_for(
        lambda: duo.find_element("#progress").text.startswith("sync step"), timeout=15, msg="sync progress from the worker"
    )
    pid = int((tmp_path / "sync.pid").read_text())
    duo.find_element("#cancel").click()
    duo.wait_for(
        lambda: duo.find_element("#run-sync").get_attribute("disabled") is None,
        timeout=10,
        msg="running state reset after cancel",
    )

    # Celery's terminate kills the pool child running the job (the pool then starts a new one).
    duo.wait_for(lambda: process_gone(pid), timeout=15, msg=f"job process {pid} terminated")
    stopped_at = duo.find_element("#progress").text
    time.sleep(1)
    assert duo.find_element("#progress").text == stopped_at  # no more progress after cancel
    assert stopped_at.startswith("sync step") and not stopped_at.endswith("100/100")
    assert duo.find_element("#result").text == "not run"
    assert duo.find_element("#side").text == "untouched"
