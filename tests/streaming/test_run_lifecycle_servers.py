"""Every run ends, whatever the moment, on real servers (Hypercorn and Uvicorn, raw sockets): closed
while its sync generator waits for the only pool thread, mid-step (async, sync and Dash 4.5's
`@callback`), and when the worker shuts down with runs in each of those states. The page gets
its final event, no run is left live, and exactly the generators that started run their `finally`.
(In-process, with the moments a client cannot time: test_run_lifecycle.py.)"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import urllib.request

import pytest

from flash import Flash, Input, Output, html, stream_props
from flash.testing.runner import FlashRunner
from flash.testing.wait import wait_for
from tests.streaming.probe import Probe
from tests.streaming.stream_apps import request_bytes, start_body

SERVERS = ["hypercorn", "uvicorn"]
TOKEN = re.compile(rb'"downlink":\s*"([^"]+)"')
HANDLE = re.compile(rb'"run":\s*"([^"]+)"')
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def lifecycle_app() -> tuple[Flash, dict[str, str]]:
    """One pool thread; `blocker` holds it inside its first step until /_life/release."""
    app = Flash(__name__, thread_pool_size=1, stream_resume_window=0.3)
    app.layout = html.Div([html.Button("go", id="go"), html.Div(id="out")])
    probe = Probe(app)
    gate = threading.Event()

    async def release() -> dict[str, bool]:
        gate.set()
        return {"released": True}

    async def shut_down() -> dict[str, bool]:
        app._shutdown.begin("test")  # as SIGTERM would
        return {"begun": True}

    app.server.add_url_rule("/_life/release", "life_release", release)
    app.server.add_url_rule("/_life/shutdown", "life_shutdown", shut_down)

    @app.event_callback(Input("go", "n_clicks"))
    def blocker(n):
        probe.count("blocker started")
        try:
            gate.wait(30)  # before the first yield: the run holds the only thread
            yield stream_props("out", {"children": "unblocked"})
        finally:
            probe.count("blocker finally")

    @app.event_callback(Input("go", "n_clicks"))
    def queued(n):
        probe.count("queued started")
        try:
            yield stream_props("out", {"children": "got a thread"})
        finally:
            probe.count("queued finally")

    @app.event_callback(Input("go", "n_clicks"))
    async def held(n):
        probe.count("held started")
        try:
            yield stream_props("out", {"children": "held"})
            await probe.gate("never").wait()
        finally:
            probe.count("held finally")

    @app.callback(Output("out", "children"), Input("go", "n_clicks"))
    async def held_callback(n):
        probe.count("held_callback started")
        try:
            yield "held"
            await probe.gate("never").wait()
        finally:
            probe.count("held_callback finally")

    ids = {
        name: fn.stream_id
        for name, fn in (("blocker", blocker), ("queued", queued), ("held", held), ("held_callback", held_callback))
    }
    return app, ids


class Page:
    """A page's downlink and its short requests, over raw sockets."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.raw = b""
        self.token = ""
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(request_bytes(self.port, "/_flash/downlink", {"downlink": None, "runs": {}}))
        self.token = (await self.read_until(TOKEN)).decode()

    async def read_until(self, pattern: re.Pattern, timeout: float = 10) -> bytes:
        assert self.reader is not None
        while (found := pattern.search(self.raw)) is None:
            chunk = await asyncio.wait_for(self.reader.read(65536), timeout)
            assert chunk, f"the downlink ended: {self.raw[-500:]!r}"
            self.raw += chunk
        return found.group(1)

    async def post(self, path: str, body: dict) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(request_bytes(self.port, path, body))
        raw = b""
        while b"\r\n\r\n" not in raw or not raw.rstrip().endswith(b"}"):
            chunk = await asyncio.wait_for(reader.read(65536), 10)
            assert chunk, raw
            raw += chunk
        writer.close()
        assert raw.startswith(b"HTTP/1.1 200"), raw[:300]
        return raw

    async def start(self, stream_id: str) -> str:
        raw = await self.post(f"/_flash/stream/{stream_id}", start_body(self.token))
        found = HANDLE.search(raw)
        assert found, raw
        return found.group(1).decode()

    async def close(self, handle: str) -> None:
        await self.post("/_flash/close", {"downlink": self.token, "runs": [handle]})

    async def until_event(self, event: str, handle: str) -> bytes:
        run = re.escape(handle.split(".", 1)[0].encode())
        return await self.read_until(
            re.compile(rb"event: " + event.encode() + rb'\ndata: \{"run":"' + run + rb'","seq":\d+,"data":([^\n]*)\}\n')
        )

    def vanish(self) -> None:
        if self.writer is not None:
            self.writer.close()


def get(runner: FlashRunner, path: str) -> dict:
    with _OPENER.open(runner.url_for(path), timeout=5) as response:
        return json.loads(response.read())


def state_when(runner: FlashRunner, check, msg: str) -> dict:
    def ready() -> dict:
        state = get(runner, "/_probe")
        assert check(state), state
        return state

    return wait_for(ready, timeout=10, msg=msg)


@pytest.fixture(params=SERVERS)
def served(request):
    app, ids = lifecycle_app()
    runner = FlashRunner()
    runner.start(app, server=request.param)
    try:
        yield runner, ids
    finally:
        get(runner, "/_life/release")
        runner.stop()


async def hold_one_of_each(page: Page, runner: FlashRunner, ids: dict[str, str]) -> dict[str, str]:
    """The blocker in its first step (the only thread), `held` and `held_callback` mid-step,
    `queued` waiting for the thread."""
    handles = {"blocker": await page.start(ids["blocker"])}
    state_when(runner, lambda s: s.get("blocker started") == 1, "the blocker holds the thread")
    for name in ("held", "held_callback"):
        handles[name] = await page.start(ids[name])
        await page.until_event("props", handles[name])
    handles["queued"] = await page.start(ids["queued"])
    await asyncio.sleep(0.2)
    assert get(runner, "/_probe")["live"] == 4
    return handles


def test_runs_closed_at_each_moment_end_and_only_started_generators_run_their_finally(served):
    runner, ids = served

    async def go() -> None:
        page = Page(runner.port)
        await page.open()
        handles = await hold_one_of_each(page, runner, ids)
        for name in ("queued", "held", "held_callback"):  # waiting for a thread, then mid-step
            await page.close(handles[name])
            closed = await page.until_event("done", handles[name])
            assert json.loads(closed) == {"closed": True}, name
        state_when(runner, lambda s: s["live"] == 1, "only the blocker runs")
        await page.close(handles["blocker"])  # mid-step in a pool thread
        assert json.loads(await page.until_event("done", handles["blocker"])) == {"closed": True}
        state_when(runner, lambda s: s["live"] == 0, "no run left")
        get(runner, "/_life/release")  # its step returns; its thread closes it
        page.vanish()

    asyncio.run(go())
    state = state_when(runner, lambda s: s.get("blocker finally") == 1, "the blocker's finally ran")
    assert state.get("queued started", 0) == 0 and state.get("queued finally", 0) == 0, state
    for name in ("held", "held_callback", "blocker"):
        assert state[f"{name} started"] == 1 and state[f"{name} finally"] == 1, state
    assert state["live"] == 0


def test_a_shutdown_ends_runs_in_every_state(served):
    runner, ids = served

    async def go() -> bytes:
        page = Page(runner.port)
        await page.open()
        await hold_one_of_each(page, runner, ids)
        get(runner, "/_life/shutdown")
        await page.read_until(re.compile(rb"(event: shutdown)"))
        page.vanish()
        return page.raw

    asyncio.run(go())
    state_when(runner, lambda s: s["live"] == 0, "no run outlives the shutdown")
    get(runner, "/_life/release")
    state = state_when(runner, lambda s: s.get("blocker finally") == 1, "the blocker's finally ran")
    assert state.get("queued started", 0) == 0 and state.get("queued finally", 0) == 0, state
    for name in ("held", "held_callback", "blocker"):
        assert state[f"{name} started"] == 1 and state[f"{name} finally"] == 1, state
