"""Streaming jobs: `@event_callback(..., background=True)` on a real Celery worker, with a real
redis-server as broker and shared storage, streaming into the page through the web workers'
stream bus: messages arrive in order from the job process, a cancel from the page ends the job,
and the job keeps streaming while the web worker serving the page is replaced."""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Iterator

import psutil
import pytest

from flash.testing import wait_for
from tests.integration.cluster import RawDownlink, RedisServer, props_values, start_celery_worker
from tests.integration.conftest import free_port

MODULE = "jobapp"
APP = """
import asyncio, os, pathlib
from celery import Celery
from flash import CeleryManager, Flash, Input, State, event_callback, html, stream_props

REDIS_URL = os.environ["FLASH_SHARED_STORAGE"]
MARKS = pathlib.Path(os.environ["MARKS"])
celery_app = Celery(__name__, broker=REDIS_URL, backend=REDIS_URL)
app = Flash(__name__, background_callback_manager=CeleryManager(celery_app), stream_resume_window=5)
app.layout = html.Div([html.Button("crunch", id="go"), html.Button("stop", id="stop"), html.Div(id="rows"),
                       html.Div("idle", id="out")])


@event_callback(Input("go", "n_clicks"), State("rows", "children"), background=True,
                cancel=[(Input("stop", "n_clicks"), None)], reset_props=[("out", {"children": "stopped"})])
async def crunch(n, rows):
    try:
        for i in range(1, (rows or 10_000) + 1):
            yield stream_props("out", {"children": f"chunk {i} from {os.getpid()}"})
            await asyncio.sleep(0.02)
    finally:
        (MARKS / f"job-{os.getpid()}").write_text("done")


@app.server.route("/whoami")
async def whoami():
    return {"pid": os.getpid(), "crunch": crunch.stream_id}
"""
WEB = [sys.executable, "-m", "uvicorn", f"{MODULE}:app.server", "--host", "127.0.0.1", "--port", "{port}"]


class JobSetup:
    def __init__(self, app_process: Callable[..., Any], tmp_path: Path) -> None:
        (tmp_path / f"{MODULE}.py").write_text(textwrap.dedent(APP))
        self.marks = tmp_path / "marks"
        self.marks.mkdir()
        self.redis = RedisServer(free_port(), tmp_path)
        self.redis.start()
        self.env = {
            "MARKS": str(self.marks),
            "FLASH_SHARED_STORAGE": self.redis.url,
            "FLASH_SECRET_KEY": "stream-jobs-secret-0123456789abcdef",
        }
        self.worker = start_celery_worker(MODULE, tmp_path, self.env, tmp_path / "celery.log")
        self._app_process = app_process
        self.log = tmp_path / "celery.log"

    def web(self) -> tuple[Any, dict[str, Any]]:
        server = self._app_process(WEB, env=self.env)
        return server, json.loads(server.wait_until("/whoami", lambda status, _: status == 200, msg="serving"))

    def job_pids(self) -> set[int]:
        return {self.worker.pid, *(c.pid for c in psutil.Process(self.worker.pid).children(recursive=True))}

    def stop(self) -> None:
        if self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(10)
        self.redis.kill()


@pytest.fixture
def jobs(app_process: Callable[..., Any], tmp_path: Path) -> Iterator[JobSetup]:
    setup = JobSetup(app_process, tmp_path)
    try:
        yield setup
    finally:
        setup.stop()


def _pid_of(message: str) -> int:
    return int(message.rsplit(" ", 1)[1])


def test_a_job_streams_into_the_page_from_the_celery_worker(jobs):
    web, info = jobs.web()
    page = RawDownlink(web.port)
    handle = page.start(web.port, info["crunch"], rows=30)
    messages = page.finished(handle)
    assert [seq for _, seq, _ in messages] == list(range(1, 32)), jobs.log.read_text()[-2000:]
    values = props_values(messages)
    assert [v.split(" from ")[0] for v in values] == [f"chunk {i}" for i in range(1, 31)]
    assert {_pid_of(v) for v in values} <= jobs.job_pids(), "it ran in the Celery worker, not the web one"
    assert messages[-1][0] == "done"
    page.drop()


def test_a_cancel_from_the_page_ends_the_job(jobs):
    web, info = jobs.web()
    page = RawDownlink(web.port)
    handle = page.start(web.port, info["crunch"])
    page.until(handle, lambda ms: len(ms) >= 3)
    status, answer = page.close_runs(web.port, handle)
    assert status == 200 and answer["forwarded"] == 1, answer
    last = page.finished(handle)[-1]
    assert last[0] == "done" and last[2] == {"closed": True}
    wait_for(lambda: list(jobs.marks.glob("job-*")), timeout=10, msg="the job's finally ran")
    page.drop()


def test_the_job_keeps_streaming_while_the_web_worker_is_replaced(jobs):
    old, info = jobs.web()
    first = RawDownlink(old.port)
    handle = first.start(old.port, info["crunch"], rows=150)
    got = first.until(handle, lambda ms: len(ms) >= 5)
    new, _ = jobs.web()  # a deploy: the new web worker comes up, the old one stops
    os.kill(old.proc.pid, signal.SIGTERM)
    with pytest.raises(AssertionError, match="ended early"):
        first.read_until(lambda _: False)
    got = first.messages(handle)
    second = RawDownlink(new.port, first.token, {handle: got[-1][1]})
    rest = second.finished(handle)
    assert [seq for _, seq, _ in got + rest] == list(range(1, 152)), "nothing lost, nothing repeated"
    assert rest[-1][0] == "done", "the job ran to its end"
    second.drop()


@pytest.mark.browser
def test_a_job_streams_into_chromium_and_stop_resets_the_page(dash_duo_mp, jobs):
    web, _info = jobs.web()
    duo = dash_duo_mp
    duo.driver.get(web.url)
    duo.wait_for_text_to_equal("#out", "idle")
    duo.find_element("#go").click()
    pids = jobs.job_pids()

    def streaming_from_the_job() -> bool:
        text = duo.find_element("#out").text
        return text.startswith("chunk ") and int(text.split()[1]) > 5 and _pid_of(text) in pids

    duo.wait_for(streaming_from_the_job, timeout=30, msg="chunks from the Celery job")
    duo.find_element("#stop").click()
    duo.wait_for_text_to_equal("#out", "stopped", timeout=10)
    wait_for(lambda: list(jobs.marks.glob("job-*")), timeout=10, msg="the job ended")
