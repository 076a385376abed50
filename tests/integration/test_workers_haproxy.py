"""Two Flash workers behind a real haproxy that balances every request round-robin, in Chromium.

No shared storage and no sticky sessions: the browser's downlink lives on one worker, and a start
that lands on the other comes back as a private line (docs/streaming-protocol.md). Eight streams
(more than the browser's six connections per host) must all update, ordinary callbacks must
answer, and leaving the page must close every run on both workers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from flash import Flash
from flash.testing import wait_for
from flash.testing.runner import FlashRunner
from tests.integration.cluster import HAPROXY_CFG
from tests.integration.conftest import free_port
from tests.streaming.probe import Probe
from tests.streaming.stream_apps import many_streams_app

pytestmark = pytest.mark.browser
STREAMS = 8
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def build_app() -> tuple[Flash, Probe]:
    # Without shared storage, a close may reach the worker that lacks the run: page exit is then
    # made good by the resume window (5 s), which the final wait allows for.
    return many_streams_app(STREAMS, secret_key="haproxy-test-secret-0123456789", stream_resume_window=5)


def state(url: str) -> dict:
    with _OPENER.open(url + "/_probe", timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def balanced(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    haproxy = shutil.which("haproxy")
    assert haproxy, "haproxy is missing: scripts/test installs Debian's haproxy"
    runners = []
    for _ in range(2):
        app, _probe = build_app()
        runner = FlashRunner()
        runner.start(app)
        runners.append(runner)
    port = free_port()
    servers = "\n".join(f"    server w{i} 127.0.0.1:{r.port}" for i, r in enumerate(runners))
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(HAPROXY_CFG.format(port=port, servers=servers))
    proc = subprocess.Popen([haproxy, "-f", str(cfg), "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        with _OPENER.open(url + "/_probe", timeout=2) as response:
            return response.status == 200

    try:
        wait_for(answers, timeout=10, msg="haproxy answers")
        yield url, [r.url.rstrip("/") for r in runners]
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        for runner in runners:
            runner.stop()


def test_streams_across_two_workers_behind_haproxy(dash_duo_mp, balanced):
    url, workers = balanced
    duo = dash_duo_mp
    duo.driver.get(url)
    duo.wait_for_element("#all").click()

    def every_stream_shows(above: list[int]) -> list[int]:
        def check():
            now = duo.driver.execute_script(
                "return Array.from({length: arguments[0]}, function (_, i) {"
                " var t = document.getElementById('out-' + i).textContent;"
                " return t ? parseInt(t.split(':')[1], 10) : 0; });",
                STREAMS,
            )
            assert all(n > b for n, b in zip(now, above)), (
                now,
                [state(w) for w in workers],
                duo.driver.execute_script("return window.__dbg"),
            )
            return now

        return duo.wait_for(check, timeout=20, msg="every stream updates")

    first = every_stream_shows([0] * STREAMS)
    live = [state(w)["live"] for w in workers]
    assert sum(live) == STREAMS and all(live), live  # the runs really are on both workers
    for n in (1, 2, 3):
        duo.find_element("#ping").click()
        duo.wait_for_text_to_equal("#pong", f"pong {n}")
    every_stream_shows(first)

    duo.driver.get("about:blank")

    def all_closed() -> bool:
        states = [state(w) for w in workers]
        assert all(s["live"] == 0 for s in states), states
        return True

    wait_for(all_closed, timeout=15, msg="every run on both workers closed when the page went away")
    assert sum(state(w).get("closed", 0) for w in workers) == STREAMS
