"""Clients that vanish at every moment of a stream's life, against real servers on every path.

Each cycle opens a downlink and/or starts an endless stream over raw sockets and then drops the
connection at a different moment: before the server answers, right after the start was sent,
mid-stream, on a private line (a start for a downlink this worker does not hold), or right after
asking the server to close the run it just started (often before its generator exists: a sync
generator waits for one of few pool threads). After the resume window every generator that
started must have run its `finally`, no run, downlink or task may be left, and the server must
not have written into a socket it already knew was dead. The generators are `async def`, `def`
(stepped in the thread pool) and Dash 4.5's `@callback` with an Output.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import time

import pytest

from flash import Flash, Input, Output, html, stream_props
from flash.streaming.wire.handles import Signer, resolve_secret
from flash.testing.runner import FlashRunner
from tests.streaming.probe import Probe
from tests.streaming.stream_apps import PATHS, request_bytes, start_body  # direct, hooks, compress, pages

CYCLES = 2000  # the direct path's async and sync churns (issue 22: a 2,000-cycle churn in CI)
SHORT_CYCLES = 500  # the other paths and Dash 4.5's @callback generators: the same moments, fewer times
CONCURRENCY = 16
RESUME_WINDOW = 0.3
SECRET = "churn-test-secret-0123456789abcdef"
TOKEN = re.compile(rb'"downlink":\s*"([^"]+)"')
HANDLE = re.compile(rb'"run":\s*"([^"]+)"')
SERVERS = ["hypercorn", "uvicorn"]
GENERATORS = ["async", "sync", "callback-async"]
SYNC_POOL = 4  # fewer threads than concurrent clients: sync runs wait for one, and get closed meanwhile


def churn_app(path: str, generator: str = "async") -> tuple[Flash, Probe, str]:
    register, options = PATHS[path]
    if generator == "sync":
        options = {**options, "thread_pool_size": SYNC_POOL}
    app = register(Flash(__name__, stream_resume_window=RESUME_WINDOW, secret_key=SECRET, **options))
    layout = html.Div([html.Button("go", id="go"), html.Div(id="out")])
    if options.get("use_pages"):
        from flash import page_container, register_page

        register_page("home", path="/", layout=layout)
        app.layout = html.Div([page_container])
    else:
        app.layout = layout
    probe = Probe(app)

    async def tasks() -> dict[str, int]:
        return {"tasks": len(asyncio.all_tasks())}

    app.server.add_url_rule("/_churn/tasks", "churn_tasks", tasks)

    @app.event_callback(Input("go", "n_clicks"))
    async def endless(n_clicks):
        probe.count("started")
        try:
            i = 0
            while True:
                i += 1
                yield stream_props("out", {"children": i})
                await asyncio.sleep(0.002)
        finally:
            probe.count("closed")

    @app.event_callback(Input("go", "n_clicks"))
    def endless_sync(n_clicks):  # a pool thread runs each step
        probe.count("started")
        try:
            time.sleep(0.003)  # the body before its first yield holds its thread a while
            i = 0
            while True:
                i += 1
                yield stream_props("out", {"children": i})
                time.sleep(0.002)
        finally:
            probe.count("closed")

    @app.callback(Output("out", "children"), Input("go", "n_clicks"))
    async def endless_callback(n_clicks):  # Dash 4.5's streaming callback: yields return values
        probe.count("started")
        try:
            i = 0
            while True:
                i += 1
                yield i
                await asyncio.sleep(0.002)
        finally:
            probe.count("closed")

    chosen = {"async": endless, "sync": endless_sync, "callback-async": endless_callback}[generator]
    return app, probe, chosen.stream_id


class Cycles:
    """The ways a client can vanish; `run(i)` takes cycle i's way (all of them, in turn)."""

    def __init__(self, port: int, stream_id: str) -> None:
        self.port = port
        self.stream_path = f"/_flash/stream/{stream_id}"
        self.signer = Signer(*resolve_secret(SECRET))
        self.kinds = [
            self.abort_downlink_unanswered,
            self.abort_start_unanswered,
            self.abort_mid_stream,
            self.abort_private_line,
            self.close_at_once,
        ]
        self.answers: list[int] = []
        self.seen_streaming = 0  # runs this side saw stream (others may never have started)
        self.seen_closed = 0  # runs closed by a close request whose `done {"closed": true}` arrived
        self.completed = 0  # cycles run to their end

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)

    @staticmethod
    def vanish(writer: asyncio.StreamWriter, reset: bool) -> None:
        """Drop the connection: a FIN, or (reset) an RST as a killed tab or a network cut sends."""
        sock = writer.get_extra_info("socket")
        if reset and sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort() if reset else writer.close()

    async def read_until(self, reader: asyncio.StreamReader, pattern: re.Pattern, raw: bytes = b"") -> tuple[bytes, bytes]:
        while (found := pattern.search(raw)) is None:
            chunk = await asyncio.wait_for(reader.read(65536), 10)
            assert chunk, f"the connection closed early: {raw[:300]!r}"
            raw += chunk
        self.answers.append(int(raw.split(b" ", 2)[1]))
        return found.group(1), raw

    async def open_downlink(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str, bytes]:
        reader, writer = await self.connect()
        writer.write(request_bytes(self.port, "/_flash/downlink", {"downlink": None, "runs": {}}))
        token, raw = await self.read_until(reader, TOKEN)
        return reader, writer, token.decode(), raw

    async def abort_downlink_unanswered(self, i: int) -> None:
        _, writer = await self.connect()
        writer.write(request_bytes(self.port, "/_flash/downlink", {"downlink": None, "runs": {}}))
        await writer.drain()
        self.vanish(writer, reset=bool(i % 2))

    async def abort_start_unanswered(self, i: int) -> None:
        """The run starts, but nobody reads its handle and the downlink goes too."""
        _, down, token, _ = await self.open_downlink()
        _, start = await self.connect()
        start.write(request_bytes(self.port, self.stream_path, start_body(token)))
        await start.drain()
        self.vanish(start, reset=bool(i % 2))
        self.vanish(down, reset=not i % 2)

    async def abort_mid_stream(self, i: int) -> None:
        reader, down, token, raw = await self.open_downlink()
        start_reader, start = await self.connect()
        start.write(request_bytes(self.port, self.stream_path, start_body(token)))
        await self.read_until(start_reader, HANDLE)
        start.close()
        await self.read_until(reader, re.compile(rb"(event: props)"), raw)  # the run streams
        self.seen_streaming += 1
        self.vanish(down, reset=bool(i % 2))

    async def abort_private_line(self, i: int) -> None:
        """A start for a downlink this worker never opened: the answer is its own SSE line."""
        _, token = self.signer.new_downlink()
        reader, writer = await self.connect()
        writer.write(request_bytes(self.port, self.stream_path, start_body(token)))
        if i % 2:
            await self.read_until(reader, re.compile(rb"(event: props)"))
            self.seen_streaming += 1
        self.vanish(writer, reset=bool(i % 4 < 2))

    async def close_at_once(self, i: int) -> None:
        """Close the run as soon as its handle is known (its pump may not have taken a step, its
        sync generator may wait for a thread): the page still gets its `done`, then vanishes."""
        reader, down, token, raw = await self.open_downlink()
        start_reader, start = await self.connect()
        start.write(request_bytes(self.port, self.stream_path, start_body(token)))
        handle, _ = await self.read_until(start_reader, HANDLE)
        close_reader, close = await self.connect()
        close.write(request_bytes(self.port, "/_flash/close", {"downlink": token, "runs": [handle.decode()]}))
        await self.read_until(close_reader, re.compile(rb'("closed":\s*\d)'))
        run = handle.split(b".", 1)[0]
        await self.read_until(
            reader, re.compile(rb'event: done\ndata: \{"run":"' + re.escape(run) + rb'",[^\n]*"data":(\{"closed":true\})'), raw
        )
        self.seen_closed += 1
        for writer in (start, close):
            writer.close()
        self.vanish(down, reset=bool(i % 2))

    async def run(self, i: int) -> None:
        await self.kinds[i % len(self.kinds)](i)
        self.completed += 1


async def churn(port: int, stream_id: str, count: int) -> Cycles:
    cycles = Cycles(port, stream_id)
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            await cycles.run(i)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return cycles


class Server:
    """What `probe.wait_state` needs: the runner's URLs and a poll loop."""

    def __init__(self, runner: FlashRunner) -> None:
        self.server = runner

    @staticmethod
    def wait_for(check, timeout: float, msg: str):
        from flash.testing import wait_for

        return wait_for(check, timeout=timeout, msg=msg)


def tasks_of(runner: FlashRunner) -> int:
    import json
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(runner.url_for("/_churn/tasks"), timeout=5) as response:
        return int(json.loads(response.read())["tasks"])


def no_downlinks(probe: Probe, duo: Server) -> bool:
    downlinks = probe.downlinks(duo)
    assert downlinks == {"downlinks": 0, "open": 0}, downlinks
    return True


def no_more_tasks(runner: FlashRunner, idle: int) -> bool:
    tasks = tasks_of(runner)
    assert tasks <= idle, f"{tasks} tasks in the server, {idle} before the churn"
    return True


def check_churn(server: str, path: str, generator: str, capfd, count: int) -> None:
    app, probe, stream_id = churn_app(path, generator)
    runner = FlashRunner()
    runner.start(app, server=server)
    try:
        duo = Server(runner)
        idle_tasks = tasks_of(runner)  # the server's own, with no stream open
        cycles = asyncio.run(churn(runner.port, stream_id, count))
        assert cycles.completed == count
        assert set(cycles.answers) == {200}, sorted(set(cycles.answers))
        assert cycles.seen_closed == count // len(cycles.kinds)
        # A start dropped before the server read it never runs; every run that did start closes.
        state = probe.wait_state(
            duo,
            lambda s: s.get("started", 0) >= cycles.seen_streaming and s.get("closed") == s.get("started") and s["live"] == 0,
            f"every generator closed ({path}, {server}, {generator})",
            timeout=30,
        )
        # The last downlinks go one resume window after their response did.
        duo.wait_for(lambda: no_downlinks(probe, duo), timeout=10, msg="every downlink forgotten")
        duo.wait_for(lambda: no_more_tasks(runner, idle_tasks), timeout=10, msg="no task left over")
    finally:
        runner.stop()
    output = capfd.readouterr()
    logs = output.out + output.err
    assert "socket.send() raised exception" not in logs
    assert "Traceback" not in logs, logs[-3000:]
    print(
        f"{path}/{server}/{generator}: {cycles.completed} cycles, {state['started']} runs started and closed, "
        f"{idle_tasks} tasks before and after"
    )


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("path", list(PATHS))
def test_every_generator_ends_whatever_the_moment_its_client_vanishes(server, path, capfd):
    check_churn(server, path, "async", capfd, CYCLES if path == "direct" else SHORT_CYCLES)


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("generator", [g for g in GENERATORS if g != "async"])
def test_sync_and_callback_generators_end_whatever_the_moment(server, generator, capfd):
    """The same churn with `def` generators on a pool of fewer threads than clients, and with
    Dash 4.5's `@callback` generators."""
    check_churn(server, "direct", generator, capfd, CYCLES if generator == "sync" else SHORT_CYCLES)
