"""Background callbacks with `DiskcacheManager`: sync and async jobs, progress, set_props, cancel.

DiskcacheManager runs each job in its own process (via `multiprocess`); the cache lives in the
test's tmp_path. Job processes write their pid to tmp_path so the test can check a cancelled job
really stopped.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import diskcache
import psutil
import pytest

from flash import DiskcacheManager, Flash, Input, Output, html, set_props
from flash.testing import FlashComposite
from tests.integration.conftest import process_gone, run_background_job

POLL_MS = 200  # how often the page polls for the job's progress/result


def _layout() -> html.Div:
    return html.Div(
        [
            html.Button("run sync", id="run-sync"),
            html.Button("run async", id="run-async"),
            html.Button("cancel", id="cancel", disabled=True),
            html.Div("no progress", id="progress"),
            html.Div("not run", id="result"),
            html.Div("untouched", id="side"),
        ]
    )


def _make_app(cache_dir: Path, pid_dir: Path, steps: int, step_seconds: float) -> Flash:
    manager = DiskcacheManager(diskcache.Cache(str(cache_dir)))
    app = Flash(__name__, background_callback_manager=manager)
    app.layout = _layout()
    common = dict(
        background=True,
        progress=[Output("progress", "children")],
        running=[
            (Output("run-sync", "disabled"), True, False),
            (Output("run-async", "disabled"), True, False),
            (Output("cancel", "disabled"), False, True),
        ],
        cancel=[Input("cancel", "n_clicks")],
        interval=POLL_MS,
        prevent_initial_call=True,
    )

    @app.callback(Output("result", "children"), Input("run-sync", "n_clicks"), **common)
    def sync_job(set_progress, n_clicks: int) -> str:
        (pid_dir / "sync.pid").write_text(str(os.getpid()))
        for step in range(1, steps + 1):
            time.sleep(step_seconds)
            set_progress(f"sync step {step}/{steps}")
        set_props("side", {"children": f"sync set_props {n_clicks}"})
        return f"sync result {n_clicks}"

    @app.callback(Output("result", "children", allow_duplicate=True), Input("run-async", "n_clicks"), **common)
    async def async_job(set_progress, n_clicks: int) -> str:
        (pid_dir / "async.pid").write_text(str(os.getpid()))
        for step in range(1, steps + 1):
            await asyncio.sleep(step_seconds)
            set_progress(f"async step {step}/{steps}")
        set_props("side", {"children": f"async set_props {n_clicks}"})
        return f"async result {n_clicks}"

    return app


@pytest.mark.browser
def test_sync_and_async_background_jobs_report_progress_and_set_props(dash_duo_mp: FlashComposite, tmp_path: Path) -> None:
    duo = dash_duo_mp
    duo.start_server(_make_app(tmp_path / "cache", tmp_path, steps=3, step_seconds=0.3))
    assert duo.find_element("#cancel").get_attribute("disabled") is not None

    for kind in ("sync", "async"):
        run_background_job(duo, kind, timeout=10)
        assert (tmp_path / f"{kind}.pid").read_text() != str(duo.server.proc.pid)  # ran in its own process
    assert duo.get_logs() == []


@pytest.mark.browser
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_cancel_stops_a_background_job(dash_duo_mp: FlashComposite, tmp_path: Path, kind: str) -> None:
    duo = dash_duo_mp
    duo.start_server(_make_app(tmp_path / "cache", tmp_path, steps=100, step_seconds=0.3))
    duo.find_element(f"#run-{kind}").click()
    duo.wait_for(lambda: duo.find_element("#progress").text.startswith(f"{kind} step"), timeout=10, msg=f"{kind} progress")
    pid = int((tmp_path / f"{kind}.pid").read_text())
    assert psutil.pid_exists(pid)

    duo.find_element("#cancel").click()
    duo.wait_for(
        lambda: duo.find_element("#run-sync").get_attribute("disabled") is None,
        timeout=10,
        msg="running state reset after cancel",
    )

    duo.wait_for(lambda: process_gone(pid), timeout=10, msg=f"{kind} job process {pid} terminated")
    stopped_at = duo.find_element("#progress").text
    assert duo.find_element("#result").text == "not run"
    assert duo.find_element("#side").text == "untouched"
    # It stopped part-way: progress had started but never reached the end.
    assert stopped_at.startswith(f"{kind} step") and not stopped_at.endswith("100/100")
    assert duo.get_logs() == []
