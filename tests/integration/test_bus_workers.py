"""Streams across real worker processes: a hypercorn and a uvicorn worker sharing one real
redis-server (`FLASH_SHARED_STORAGE=redis://...`), each request sent to the worker the test
names (as a round-robin balancer would spread them), and behind a real haproxy for Chromium.
Cross-worker start, cancel, resume and tab close; a worker killed with SIGKILL mid-stream; Redis
killed and restarted mid-stream."""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from flash.storage.outage import BACK, DOWN
from flash.streaming.bus.liveness import WORKER_LOST
from flash.testing import wait_for
from tests.integration.cluster import Haproxy, RawDownlink, RedisServer, post, props_values
from tests.integration.conftest import free_port

PYTHON = sys.executable
APP = """
import asyncio, os, pathlib
from quart import request
from flash import Channel, Flash, Input, Output, State, event_callback, html, stream_props, callback

MARKS = pathlib.Path(os.environ["MARKS"])
app = Flash(__name__, stream_resume_window=1)
app.layout = html.Div([
    html.Button("start", id="go"), html.Button("stop", id="stop"), html.Button(id="count"), html.Div(id="rows"),
    html.Div("idle", id="out"), html.Button("ping", id="ping"), html.Div(id="pong"),
    html.Button("watch", id="watch"), html.Button("send", id="send"), html.Div(id="news"), html.Div(id="sent"),
])
news = Channel("news")


@event_callback(Input("watch", "n_clicks"), State("rows", "children"))
async def watch(n, _rows):
    subscription = news.subscribe()
    await subscription.ready()
    yield stream_props("news", {"children": "listening"})  # publishes from now on reach this page
    async for message in subscription:
        yield stream_props("news", {"children": message})


@callback(Output("sent", "children"), Input("send", "n_clicks"), prevent_initial_call=True)
async def send(n):
    await news.publish(f"news {n} via {os.getpid()}")
    return n


@app.server.route("/publish", methods=["POST"])
async def publish_route():
    await news.publish((await request.get_json())["message"])
    return {"ok": True}


@event_callback(Input("count", "n_clicks"), State("rows", "children"))
async def ticks(n, rows):
    for i in range(1, (rows or 100) + 1):
        yield stream_props("out", {"children": i})
        await asyncio.sleep(0.01)


@event_callback(Input("go", "n_clicks"), State("rows", "children"),
                cancel=[(Input("stop", "n_clicks"), None)], reset_props=[("out", {"children": "reset"})])
async def endless(n, _out):
    i = 0
    try:
        while True:
            i += 1
            yield stream_props("out", {"children": f"tick {i} from {os.getpid()}"})
            await asyncio.sleep(0.02)
    finally:
        (MARKS / f"closed-{os.getpid()}").write_text(str(i))


@callback(Output("pong", "children"), Input("ping", "n_clicks"), prevent_initial_call=True)
def ping(n):
    return f"pong {n}"


@app.server.route("/whoami")
async def whoami():
    return {"pid": os.getpid(), "ticks": ticks.stream_id, "endless": endless.stream_id, "watch": watch.stream_id}
"""

SERVERS = [
    [PYTHON, "-m", "hypercorn", "busapp:app.server", "--bind", "127.0.0.1:{port}"],
    [PYTHON, "-m", "uvicorn", "busapp:app.server", "--host", "127.0.0.1", "--port", "{port}"],
]


class Cluster:
    def __init__(self, app_process: Callable[..., Any], tmp_path: Path) -> None:
        (tmp_path / "busapp.py").write_text(textwrap.dedent(APP))
        self.marks = tmp_path / "marks"
        self.marks.mkdir()
        self.redis = RedisServer(free_port(), tmp_path)
        self.redis.start()
        env = {
            "MARKS": str(self.marks),
            "FLASH_SHARED_STORAGE": self.redis.url,
            "FLASH_SECRET_KEY": "bus-workers-secret-0123456789abcdef",
        }
        self.workers = [app_process(args, env=env) for args in SERVERS]
        self.info = [json.loads(w.wait_until("/whoami", lambda status, _: status == 200, msg="serving")) for w in self.workers]
        self.ports = [w.port for w in self.workers]
        self.ids = {name: self.info[0][name] for name in ("ticks", "endless", "watch")}

    def closed_by(self, index: int) -> str | None:
        mark = self.marks / f"closed-{self.info[index]['pid']}"
        return mark.read_text() if mark.exists() else None

    def outputs(self) -> str:
        return "\n".join(w.output()[-2500:] for w in self.workers)


def outage_lines(output: str) -> tuple[int, int]:
    """(lines saying Redis went away, lines saying it is back) in a worker's log."""
    lines = output.splitlines()
    return sum(DOWN in line and "still" not in line for line in lines), sum(BACK in line for line in lines)


@pytest.fixture
def cluster(app_process: Callable[..., Any], tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(app_process, tmp_path)
    try:
        yield made
    finally:
        made.redis.kill()


def test_start_on_one_worker_streams_to_the_downlink_on_the_other_and_a_cancel_anywhere_closes_it(cluster):
    a, b = cluster.ports
    page = RawDownlink(a)
    handle = page.start(b, cluster.ids["ticks"], trigger="count", rows=50)
    messages = page.finished(handle)
    assert [seq for _, seq, _ in messages] == list(range(1, 52)), "every message once, in order"
    assert props_values(messages) == list(range(1, 51)) and messages[-1][0] == "done"

    handle = page.start(b, cluster.ids["endless"])
    ticks = page.until(handle, lambda ms: len(ms) >= 3)
    assert f"from {cluster.info[1]['pid']}" in ticks[0][2][0][1]["children"], "B runs it"
    status, answer = page.close_runs(a, handle)  # the cancel lands on A
    assert status == 200 and answer == {"closed": 0, "forwarded": 1, "unknown": []}, answer
    last = page.finished(handle)[-1]
    assert last[0] == "done" and last[2] == {"closed": True}
    wait_for(lambda: cluster.closed_by(1), timeout=10, msg="the generator's finally ran on B")
    page.drop()


def test_a_resume_on_the_other_worker_replays_exactly_what_the_page_missed(cluster):
    a, b = cluster.ports
    first = RawDownlink(a)
    handle = first.start(a, cluster.ids["ticks"], trigger="count", rows=200)
    got = first.until(handle, lambda ms: len(ms) >= 10)
    first.drop()
    second = RawDownlink(b, first.token, {handle: got[-1][1]})
    assert second.resumed and second.token == first.token
    rest = second.finished(handle)
    assert [seq for _, seq, _ in got + rest] == list(range(1, 202)), "nothing lost, nothing repeated"
    assert props_values(got + rest) == list(range(1, 201))
    second.drop()


def test_a_closed_tab_ends_its_runs_on_the_worker_running_them(cluster):
    a, b = cluster.ports
    page = RawDownlink(a)
    handle = page.start(b, cluster.ids["endless"])
    page.until(handle, lambda ms: len(ms) >= 3)
    page.drop()  # and never comes back: presence lapses (resume window 1 s + 2 s), B closes it
    wait_for(lambda: cluster.closed_by(1), timeout=15, msg="B closed the run of the closed tab")


def test_a_worker_killed_mid_stream_ends_the_run_on_the_page_with_an_error(cluster):
    a, b = cluster.ports
    page = RawDownlink(a)
    handle = page.start(b, cluster.ids["endless"])
    page.until(handle, lambda ms: len(ms) >= 3)
    os.killpg(cluster.workers[1].proc.pid, signal.SIGKILL)  # no finally, no last message
    last = page.finished(handle)[-1]  # bounded: the worker's lease lapses in 3 s
    assert last[0] == "error" and last[2] == {"message": WORKER_LOST, "handled": False}, last
    assert cluster.closed_by(1) is None
    page.drop()


def test_a_worker_stopped_with_sigterm_hands_its_runs_back_to_the_page(cluster):
    a, b = cluster.ports
    page = RawDownlink(a)
    handle = page.start(b, cluster.ids["endless"])
    page.until(handle, lambda ms: len(ms) >= 3)
    os.kill(cluster.workers[1].proc.pid, signal.SIGTERM)  # uvicorn, running the stream, stops
    last = page.finished(handle)[-1]
    assert last[0] == "gone", "the page starts the run over on a live worker"
    wait_for(lambda: cluster.closed_by(1), timeout=10, msg="the generator's finally ran")
    cluster.workers[1].proc.wait(20)
    page.drop()


def test_the_worker_holding_the_downlink_stopped_with_sigterm_the_page_resumes_on_the_other(cluster):
    a, b = cluster.ports
    first = RawDownlink(a)
    handle = first.start(b, cluster.ids["ticks"], trigger="count", rows=300)
    first.until(handle, lambda ms: len(ms) >= 5)
    os.kill(cluster.workers[0].proc.pid, signal.SIGTERM)  # hypercorn's main process, as systemd does
    with pytest.raises(AssertionError, match="ended early"):
        first.read_until(lambda _: False)
    assert b"event: shutdown" not in first.raw, "with the bus the page resumes instead of starting over"
    got = first.messages(handle)
    second = RawDownlink(b, first.token, {handle: got[-1][1]})
    assert second.resumed
    rest = second.finished(handle)
    assert [seq for _, seq, _ in got + rest] == list(range(1, 302)), "nothing lost, nothing repeated"
    second.drop()


def test_redis_restarted_mid_stream_the_page_resumes_into_a_known_state(cluster):
    a, b = cluster.ports
    page = RawDownlink(a)
    handle = page.start(b, cluster.ids["endless"])
    page.until(handle, lambda ms: len(ms) >= 3)
    seen = page.messages(handle)[-1][1]
    cluster.redis.kill()
    with pytest.raises(AssertionError, match="ended early"):  # A cuts the downlink: the page reconnects
        page.read_until(lambda _: False)
    wait_for(lambda: cluster.closed_by(1), timeout=10, msg="B's run ended when its writes failed")
    cluster.redis.start()  # empty: nothing of the old stream survived

    again = RawDownlink(b, page.token, {handle: seen})  # the page's reconnect, on the other worker
    gone = again.finished(handle)
    assert gone[-1][0] == "gone", "the page starts the lost run over"
    fresh = again.start(a, cluster.ids["ticks"], trigger="count", rows=20)
    assert props_values(again.finished(fresh)) == list(range(1, 21)), "and streams work again"
    again.drop()
    # Each worker said once that Redis was gone and once that it was back, however many of its
    # operations failed in between (storage/outage.py).
    lines = lambda: [outage_lines(w.output()) for w in cluster.workers]  # noqa: E731
    wait_for(lambda: lines() == [(1, 1), (1, 1)], timeout=5, msg=f"one outage line, one recovery line each: {lines()}")
    assert "Traceback" not in cluster.outputs()


def test_a_channel_publish_on_one_worker_reaches_pages_on_both(cluster):
    a, b = cluster.ports
    pages = [RawDownlink(port) for port in (a, b)]
    handles = [page.start(port, cluster.ids["watch"], trigger="watch") for page, port in zip(pages, (a, b))]

    def news(page: RawDownlink, handle: str) -> list[Any]:
        return [
            props["children"]
            for event, _, data in page.messages(handle)
            if event == "props"
            for cid, props in data
            if cid == "news"
        ]

    for page, handle in zip(pages, handles):
        page.until(handle, lambda _, page=page, handle=handle: "listening" in news(page, handle))
    for i in range(3):
        assert post(a if i % 2 else b, "/publish", {"message": f"final {i}"})[0] == 200
    for page, handle in zip(pages, handles):
        page.until(handle, lambda _, page=page, handle=handle: "final 2" in news(page, handle))
        finals = [m for m in news(page, handle) if m.startswith("final")]
        assert finals == ["final 0", "final 1", "final 2"], "every publish, once, in order"
        page.drop()


def test_chromium_behind_haproxy_streams_cancels_and_resets_across_workers(dash_duo_mp, cluster, tmp_path):
    proxy = Haproxy(free_port(), cluster.ports, tmp_path)
    try:
        duo = dash_duo_mp
        wait_for(lambda: _answers(proxy.url), timeout=10, msg="haproxy answers")
        duo.driver.get(proxy.url)
        duo.wait_for_text_to_equal("#out", "idle")
        duo.find_element("#go").click()
        duo.wait_for(lambda: _tick(duo) > 5, timeout=20, msg="the endless stream updates the page")
        for n in (1, 2, 3):
            duo.find_element("#ping").click()
            duo.wait_for_text_to_equal("#pong", f"pong {n}")
        duo.find_element("#stop").click()  # cancel, wherever haproxy sends it
        duo.wait_for_text_to_equal("#out", "reset", timeout=10)
        wait_for(
            lambda: cluster.closed_by(0) or cluster.closed_by(1), timeout=10, msg="the worker running it closed the generator"
        )

        # Two windows, one live channel: each watches, a publish from one shows in both.
        first = duo.driver.current_window_handle
        duo.find_element("#watch").click()
        duo.driver.switch_to.new_window("window")
        duo.driver.get(proxy.url)
        duo.wait_for_text_to_equal("#out", "idle")
        duo.find_element("#watch").click()
        windows = [first, duo.driver.current_window_handle]
        for window in windows:
            duo.driver.switch_to.window(window)
            duo.wait_for_text_to_equal("#news", "listening", timeout=20)
        duo.find_element("#send").click()  # in the second window
        for window in windows:
            duo.driver.switch_to.window(window)
            duo.wait_for(
                lambda: duo.find_element("#news").text.startswith("news 1 via "),
                timeout=20,
                msg="the publish shows in both windows",
            )
    finally:
        proxy.stop()


def _tick(duo: Any) -> int:
    text = duo.find_element("#out").text
    return int(text.split()[1]) if text.startswith("tick ") else 0


def _answers(url: str) -> bool:
    from tests.integration.conftest import http_get

    try:
        return http_get(url + "/whoami", timeout=2)[0] == 200
    except OSError:
        return False
