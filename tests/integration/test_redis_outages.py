"""Redis outages under two real workers (hypercorn and uvicorn) and a real redis-server: Redis
unreachable when the workers start, paused (SIGSTOP) briefly and for longer than the socket
timeout. Pages end in a known state (`gone`: the page starts the run over) or resume, nothing hangs (every Redis command is bounded by
`socket_timeout`, here 2 s from the URL), and each worker logs ONE line when Redis goes away and
ONE when it is back (storage/outage.py), not one per retry, run or downlink. Redis killed and
restarted mid-stream: test_bus_workers.py (which counts the same lines)."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from flash.testing import wait_for
from tests.integration.cluster import RawDownlink, RedisServer, post, props_values
from tests.integration.conftest import free_port
from tests.integration.test_bus_workers import APP, SERVERS, outage_lines

SOCKET_TIMEOUT = 2


class Workers:
    """Two workers on one Redis URL (with a short socket timeout); Redis started or not."""

    def __init__(self, app_process: Callable[..., Any], tmp_path: Path, start_redis: bool = True) -> None:
        (tmp_path / "busapp.py").write_text(textwrap.dedent(APP))
        (tmp_path / "marks").mkdir()
        self.redis = RedisServer(free_port(), tmp_path)
        if start_redis:
            self.redis.start()
        env = {
            "MARKS": str(tmp_path / "marks"),
            "FLASH_SECRET_KEY": "redis-outages-secret-0123456789abcdef",
            "FLASH_SHARED_STORAGE": f"{self.redis.url}?socket_timeout={SOCKET_TIMEOUT}&socket_connect_timeout=1",
        }
        self.workers = [app_process(args, env=env) for args in SERVERS]
        self.info = [json.loads(w.wait_until("/whoami", lambda status, _: status == 200, msg="serving")) for w in self.workers]
        self.ports = [w.port for w in self.workers]
        self.ids = {name: self.info[0][name] for name in ("ticks", "endless")}

    def lines(self) -> list[tuple[int, int]]:
        return [outage_lines(w.output()) for w in self.workers]

    def outputs(self) -> str:
        return "\n".join(w.output()[-2500:] for w in self.workers)

    def pause(self) -> None:
        assert self.redis.proc is not None
        os.kill(self.redis.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.redis.proc is not None
        os.kill(self.redis.proc.pid, signal.SIGCONT)


@pytest.fixture
def workers(app_process: Callable[..., Any], tmp_path: Path) -> Iterator[Workers]:
    made = Workers(app_process, tmp_path)
    try:
        yield made
    finally:
        made.resume()
        made.redis.kill()


def test_redis_unreachable_at_start_up_streams_answer_503_then_work_once_it_answers(app_process, tmp_path):
    cluster = Workers(app_process, tmp_path, start_redis=False)
    try:
        a, b = cluster.ports
        for _ in range(3):  # the page's reconnects, on both workers
            for port in (a, b):
                status, answer = post(port, "/_flash/downlink", {"downlink": None, "runs": {}})
                assert status == 503 and "unreachable" in answer["error"], (status, answer)
        assert [down for down, _ in cluster.lines()] == [1, 1], cluster.outputs()
        pong = post(
            a,
            "/_dash-update-component",
            {
                "output": "pong.children",
                "outputs": {"id": "pong", "property": "children"},
                "inputs": [{"id": "ping", "property": "n_clicks", "value": 1}],
                "changedPropIds": ["ping.n_clicks"],
            },
        )
        assert pong[0] == 200, "ordinary callbacks do not need Redis"

        cluster.redis.start()
        page = RawDownlink(a)
        handle = page.start(b, cluster.ids["ticks"], trigger="count", rows=20)
        assert props_values(page.finished(handle)) == list(range(1, 21))
        page.drop()
        wait_for(lambda: cluster.lines() == [(1, 1), (1, 1)], timeout=10, msg=f"one line each: {cluster.lines()}")
        assert "Traceback" not in cluster.outputs()
    finally:
        cluster.redis.kill()


def test_a_redis_paused_briefly_slows_streams_down_and_loses_nothing(workers):
    a, b = workers.ports
    page = RawDownlink(a)
    handle = page.start(b, workers.ids["ticks"], trigger="count", rows=150)
    page.until(handle, lambda ms: len(ms) >= 5)
    workers.pause()
    time.sleep(SOCKET_TIMEOUT / 3)  # well within the socket timeout: slow, not gone
    workers.resume()
    assert props_values(page.finished(handle)) == list(range(1, 151))
    page.drop()
    assert workers.lines() == [(0, 0), (0, 0)], workers.outputs()


def test_a_redis_paused_past_the_socket_timeout_is_one_outage_per_worker_and_pages_end_known(workers):
    a, b = workers.ports
    page = RawDownlink(a)
    handle = page.start(b, workers.ids["endless"])
    page.until(handle, lambda ms: len(ms) >= 3)
    workers.pause()
    started = time.monotonic()
    # Nothing hangs: the downlink is cut within a few socket timeouts (the page reconnects).
    with pytest.raises(AssertionError, match="ended early"):
        page.read_until(lambda _: False)
    assert time.monotonic() - started < 6 * SOCKET_TIMEOUT
    wait_for(
        lambda: [down for down, _ in workers.lines()] == [1, 1],
        timeout=4 * SOCKET_TIMEOUT,
        msg=f"each worker says once that Redis is gone: {workers.lines()}",
    )
    time.sleep(2 * SOCKET_TIMEOUT)  # retries go on meanwhile, unlogged
    assert [down for down, _ in workers.lines()] == [1, 1], workers.outputs()
    workers.resume()
    wait_for(lambda: workers.lines() == [(1, 1), (1, 1)], timeout=5, msg=f"and once that it is back: {workers.lines()}")

    seen = page.messages(handle)[-1][1]
    again = RawDownlink(b, page.token, {handle: seen})  # the page's reconnect, on the other worker
    ends = ("gone", "error", "done")
    got = again.until(handle, lambda ms: bool(ms) and (ms[-1][0] in ends or ms[-1][1] > seen + 3))
    if got[-1][0] not in ends:  # the run outlived the pause: the page resumed it, nothing lost
        assert [seq for _, seq, _ in got] == list(range(seen + 1, got[-1][1] + 1)), got
        assert again.close_runs(a, handle)[0] == 200
        got = again.finished(handle)
    assert got[-1][0] in ends, got[-3:]
    fresh = again.start(a, workers.ids["ticks"], trigger="count", rows=20)
    assert props_values(again.finished(fresh)) == list(range(1, 21)), "and streams work again"
    again.drop()
    assert workers.lines() == [(1, 1), (1, 1)], workers.outputs()
    assert "Traceback" not in workers.outputs()
