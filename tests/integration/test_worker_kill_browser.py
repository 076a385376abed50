"""A worker killed with SIGKILL while pages stream from both workers, in Chromium.

Two workers (hypercorn and uvicorn) share a real redis-server behind a real haproxy that balances
every request round-robin (with health checks, as in production). Several pages (browser windows)
each run `STREAMS` endless streams; the balancer spreads their starts over both workers, and the
windows share the browser's one downlink (its hub runs in a SharedWorker). One worker is killed
with SIGKILL (no `finally`, no last message, its sockets just close): the one holding the
downlink (every page reconnects to the survivor and resumes there) or the other one.

- Every stream that ran on the dead worker is told within the resume window: its page applies
  the stream's `reset_props` and it stays there (an `error`, not a restart).
- Every stream on the surviving worker goes on untouched: the same run (its nonce is unchanged),
  never reset, and its log, which each message appends one number to, is exactly 1, 2, ..., n:
  nothing lost, nothing repeated, also when the downlink was on the dead worker.
- Ordinary callbacks still answer on every page.

test_bus_workers.py covers the same kill on the protocol level with one raw client; this is the
whole path a user sees, with several pages and streams on both workers at once.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from flash.testing import wait_for
from tests.integration.cluster import Haproxy, RedisServer
from tests.integration.conftest import free_port, http_get

pytestmark = pytest.mark.browser
PYTHON = sys.executable
PAGES = 3
STREAMS = 4  # per page: 12 starts, spread round-robin over both workers
RESUME_WINDOW = 5.0  # Flash's default `stream_resume_window`
APP = f"""
import asyncio, os, secrets
from flash import Flash, Input, Output, Patch, callback, html, stream_props

STREAMS = {STREAMS}
app = Flash(__name__, stream_resume_window={RESUME_WINDOW})
app.layout = html.Div(
    [html.Button("go", id="go"), html.Button("ping", id="ping"), html.Div(id="pong")]
    + [html.Div([html.Span(id=f"who-{{i}}"), html.Span([], id=f"log-{{i}}")]) for i in range(STREAMS)])


def make(i):
    async def tick(n):
        yield stream_props(f"who-{{i}}", {{"children": f"{{os.getpid()}}:{{secrets.token_hex(4)}}"}})  # this run
        k = 0
        while True:
            k += 1
            log = Patch()
            log.append(f"{{k}},")
            yield stream_props(f"log-{{i}}", {{"children": log}})
            await asyncio.sleep(0.1)

    tick.__qualname__ = f"tick_{{i}}"  # one stream per index
    app.event_callback(Input("go", "n_clicks"), reset_props=[(f"log-{{i}}", {{"children": "reset"}})])(tick)


for i in range(STREAMS):
    make(i)


@callback(Output("pong", "children"), Input("ping", "n_clicks"), prevent_initial_call=True)
def ping(n):
    return f"pong {{n}}"


@app.server.route("/whoami")
async def whoami():
    downlinks = app.stream_runs.downlinks.values()
    return {{"pid": os.getpid(), "open_downlinks": sum(1 for d in downlinks if d.listener is not None)}}
"""
SERVERS = [
    [PYTHON, "-m", "hypercorn", "killapp:app.server", "--bind", "127.0.0.1:{port}"],
    [PYTHON, "-m", "uvicorn", "killapp:app.server", "--host", "127.0.0.1", "--port", "{port}"],
]
# Each stream's log as the page shows it, plus the moment (browser clock, ms) it first showed
# `reset` and whether it ever went backwards: a restart shows `reset` or a shorter log, however briefly.
WATCH = """
window.__seen = {};
for (let i = 0; i < arguments[0]; i++) {
  const el = document.getElementById('log-' + i);
  const seen = window.__seen[i] = {resetAt: null, longest: 0, backwards: false};
  new MutationObserver(function () {
    const text = el.textContent;
    if (text === 'reset') { if (seen.resetAt === null) seen.resetAt = Date.now(); return; }
    const n = text.split(',').length - 1;
    if (n < seen.longest) seen.backwards = true;
    seen.longest = Math.max(seen.longest, n);
  }).observe(el, {childList: true, characterData: true, subtree: true});
}
"""
READ = """
return Array.from({length: arguments[0]}, function (_, i) {
  return {who: document.getElementById('who-' + i).textContent,
          log: document.getElementById('log-' + i).textContent,
          seen: (window.__seen || {})[i] || null};
});
"""


class Workers:
    """redis-server + the two workers; `pids[k]` is worker k's app process."""

    def __init__(self, app_process: Callable[..., Any], tmp_path: Path) -> None:
        (tmp_path / "killapp.py").write_text(textwrap.dedent(APP))
        self.redis = RedisServer(free_port(), tmp_path)
        self.redis.start()
        env = {"FLASH_SHARED_STORAGE": self.redis.url, "FLASH_SECRET_KEY": "worker-kill-secret-0123456789abcdef"}
        self.procs = [app_process(args, env=env) for args in SERVERS]
        self.pids = [
            json.loads(p.wait_until("/whoami", lambda status, _: status == 200, msg="serving"))["pid"] for p in self.procs
        ]
        self.ports = [p.port for p in self.procs]

    def open_downlinks(self, k: int) -> int:
        return int(json.loads(self.procs[k].get("/whoami")[1])["open_downlinks"])


@pytest.fixture
def workers(app_process: Callable[..., Any], tmp_path: Path) -> Iterator[Workers]:
    made = Workers(app_process, tmp_path)
    try:
        yield made
    finally:
        made.redis.kill()


def _numbers(log: str) -> list[int]:
    return [int(n) for n in log.split(",") if n]


def _read(duo: Any) -> list[dict[str, Any]]:
    return list(duo.driver.execute_script(READ, STREAMS))


@pytest.mark.parametrize("kill", ["downlink-holder", "other-worker"])
def test_a_worker_killed_mid_stream_resets_its_pages_streams_and_leaves_the_others_untouched(
    dash_duo_mp, workers, tmp_path, kill
):
    proxy = Haproxy(free_port(), workers.ports, tmp_path, checked=True)
    duo = dash_duo_mp
    try:
        wait_for(lambda: _answers(proxy.url), timeout=10, msg="haproxy answers")
        windows = []
        for page in range(PAGES):
            if page:
                duo.driver.switch_to.new_window("window")
            duo.driver.get(proxy.url)
            duo.find_element("#go").click()
            windows.append(duo.driver.current_window_handle)

        # Every stream of every page runs; note which worker runs it (the pid its run shows).
        before: dict[tuple[int, int], dict[str, Any]] = {}
        for page, window in enumerate(windows):
            duo.driver.switch_to.window(window)
            duo.wait_for(lambda: _running(duo), timeout=30, msg=f"page {page}: every stream updates")
            duo.driver.execute_script(WATCH, STREAMS)
            for i, stream in enumerate(_read(duo)):
                before[page, i] = stream
        runner = {key: int(s["who"].split(":")[0]) for key, s in before.items()}
        assert set(runner.values()) == set(workers.pids), ("streams run on both workers", runner, workers.pids)

        # The browser's windows share one downlink (its hub runs in a SharedWorker): kill the worker
        # holding it (every page reconnects to the survivor and resumes there) or the other one.
        held = [workers.open_downlinks(k) for k in (0, 1)]
        assert sorted(held) == [0, 1], held
        victim = held.index(1) if kill == "downlink-holder" else held.index(0)
        dead_pid, live_pid = workers.pids[victim], workers.pids[1 - victim]
        killed_at = time.time() * 1000
        os.killpg(workers.procs[victim].proc.pid, signal.SIGKILL)  # the whole server, workers and all
        dead = sorted(key for key, pid in runner.items() if pid == dead_pid)
        alive = sorted(key for key, pid in runner.items() if pid == live_pid)

        def reset(page: int) -> bool:
            now = _read(duo)
            assert all(now[i]["log"] == "reset" for p, i in dead if p == page), now
            return True

        def grown(page: int, seen: list[dict[str, Any]]) -> bool:
            now = _read(duo)
            assert all(len(_numbers(now[i]["log"])) >= len(_numbers(seen[i]["log"])) + 10 for p, i in alive if p == page), now
            return True

        after: dict[tuple[int, int], dict[str, Any]] = {}
        for page, window in enumerate(windows):
            duo.driver.switch_to.window(window)
            duo.wait_for(lambda: reset(page), timeout=30, msg=f"page {page}: the dead worker's streams reset")
            seen = _read(duo)  # seconds after the kill: the live worker's streams still go on from here
            duo.wait_for(lambda: grown(page, seen), timeout=20, msg=f"page {page}: the live worker's streams go on")
            for n in (1, 2):  # ordinary callbacks, on whichever worker is left
                duo.find_element("#ping").click()
                duo.wait_for_text_to_equal("#pong", f"pong {n}", timeout=10)
            for i, stream in enumerate(_read(duo)):
                after[page, i] = stream

        for key in dead:
            told = after[key]["seen"]["resetAt"] - killed_at
            assert told <= RESUME_WINDOW * 1000, f"stream {key} was told {told:.0f} ms after the kill, beyond the resume window"
        for key in alive:
            stream = after[key]
            numbers = _numbers(stream["log"])
            assert stream["who"] == before[key]["who"], (key, "the same run, not a new one", stream)
            assert stream["seen"]["resetAt"] is None and not stream["seen"]["backwards"], (key, "never reset", stream)
            assert numbers == list(range(1, len(numbers) + 1)), (key, "every message once, in order", stream["log"])
        time.sleep(1)  # the dead worker's streams stay reset: they are not started over
        for page, window in enumerate(windows):
            duo.driver.switch_to.window(window)
            now = _read(duo)
            assert all(now[i]["log"] == "reset" for p, i in dead if p == page), now
        assert "Traceback" not in workers.procs[1 - victim].output()
    finally:
        proxy.stop()


def _running(duo: Any) -> bool:
    streams = _read(duo)
    if any(s["log"] == "reset" for s in streams):  # say why in the timeout message
        raise AssertionError(f"a stream failed before the kill: {streams}\n{duo.driver.get_log('browser')}")
    return all(len(_numbers(s["log"])) >= 3 and s["who"] for s in streams)


def _answers(url: str) -> bool:
    try:
        return http_get(url + "/whoami", timeout=2)[0] == 200
    except OSError:
        return False
