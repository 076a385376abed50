"""Clients that vanish at every moment of a stream's life, against real servers on every path.

Each cycle opens a downlink and/or starts an endless stream over raw sockets and then drops the
connection at a different moment: before the server answers, right after the start was sent,
mid-stream, or on a private line (a start for a downlink this worker does not hold). After the
resume window every generator must have run its `finally`, no run or downlink may be left, and
the server must not have written into a socket it already knew was dead.
"""
from __future__ import annotations

import asyncio
import re
import socket
import struct

import pytest

from flash import Flash, Input, html, stream_props
from flash.streaming.handles import Signer, resolve_secret
from flash.testing.runner import FlashRunner
from tests.streaming.probe import Probe
from tests.streaming.stream_apps import PATHS, request_bytes, start_body  # direct, hooks, compress, pages

CYCLES = 2000
CONCURRENCY = 16
RESUME_WINDOW = 0.3
SECRET = "churn-test-secret-0123456789abcdef"
TOKEN = re.compile(rb'"downlink":\s*"([^"]+)"')
HANDLE = re.compile(rb'"run":\s*"([^"]+)"')
SERVERS = ["hypercorn", "uvicorn"]


def churn_app(path: str) -> tuple[Flash, Probe, str]:
    register, options = PATHS[path]
    app = register(Flash(__name__, stream_resume_window=RESUME_WINDOW, secret_key=SECRET, **options))
    layout = html.Div([html.Button("go", id="go"), html.Div(id="out")])
    if options.get("use_pages"):
        from flash import page_container, register_page

        register_page("home", path="/", layout=layout)
        app.layout = html.Div([page_container])
    else:
        app.layout = layout
    probe = Probe(app)

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

    return app, probe, endless.stream_id


class Cycles:
    """The ways a client can vanish; `run(i)` takes cycle i's way (all of them, in turn)."""

    def __init__(self, port: int, stream_id: str) -> None:
        self.port = port
        self.stream_path = f"/_flash/stream/{stream_id}"
        self.signer = Signer(*resolve_secret(SECRET))
        self.kinds = [self.abort_downlink_unanswered, self.abort_start_unanswered,
                      self.abort_mid_stream, self.abort_private_line]
        self.answers: list[int] = []
        self.seen_streaming = 0  # runs this side saw stream (others may never have started)

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

    async def run(self, i: int) -> None:
        await self.kinds[i % len(self.kinds)](i)


async def churn(port: int, stream_id: str) -> Cycles:
    cycles = Cycles(port, stream_id)
    queue = iter(range(CYCLES))

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


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("path", list(PATHS))
def test_every_generator_ends_whatever_the_moment_its_client_vanishes(server, path, capfd):
    app, probe, stream_id = churn_app(path)
    runner = FlashRunner()
    runner.start(app, server=server)
    try:
        cycles = asyncio.run(churn(runner.port, stream_id))
        assert set(cycles.answers) == {200}, sorted(set(cycles.answers))
        duo = Server(runner)
        # A start dropped before the server read it never runs; every run that did start closes.
        state = probe.wait_state(
            duo, lambda s: s.get("started", 0) >= cycles.seen_streaming and s.get("closed") == s.get("started")
            and s["live"] == 0, f"every generator closed ({path}, {server})", timeout=30)
        downlinks = probe.downlinks(duo)
        assert downlinks == {"downlinks": 0, "open": 0}, downlinks
    finally:
        runner.stop()
    output = capfd.readouterr()
    logs = output.out + output.err
    assert "socket.send() raised exception" not in logs
    assert "Traceback" not in logs, logs[-3000:]
    print(f"{path}/{server}: {CYCLES} cycles, {state['started']} runs started and closed")
