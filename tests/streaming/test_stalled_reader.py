"""A reader that stops reading, against real servers (Hypercorn, Uvicorn) on the direct ASGI
path and through Quart (a before_request hook), for a downlink and for a private line: within
about `stream_write_timeout` the response is cut, and after the resume window the endless
generator's `finally` has run and no run or downlink is left. Without the timeout the run would
wait behind back-pressure forever (issue 10)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time

import pytest

from flash import Flash, Input, html, stream_props
from flash.streaming.wire.handles import Signer, resolve_secret
from flash.testing.runner import FlashRunner
from tests.streaming.probe import _OPENER, Probe
from tests.streaming.stream_apps import request_bytes, start_body

SECRET = "stalled-reader-secret-0123456789abcdef"
TOKEN = re.compile(rb'"downlink":\s*"([^"]+)"')
BLOB = "x" * 100_000  # fills the socket buffers in a fraction of a second (issue 22 used 100 KB)
STREAMS = 4  # the runs on the stalled downlink (a private line has one)


def stalled_app(path: str) -> tuple[Flash, Probe, str]:
    app = Flash(__name__, stream_write_timeout=1.0, stream_resume_window=0.5, secret_key=SECRET)
    if path == "quart":

        @app.server.before_request
        async def hook():  # any hook sends the stream routes through Quart
            return None

    app.layout = html.Div([html.Button("go", id="go"), html.Div(id="out")])
    probe = Probe(app)

    @app.event_callback(Input("go", "n_clicks"))
    async def endless(n_clicks):
        probe.count("started")
        try:
            i = 0
            while True:
                i += 1
                yield stream_props("out", {"children": f"{i} {BLOB}"})
                await asyncio.sleep(0)
        finally:
            probe.count("closed")

    return app, probe, endless.stream_id


def slow_socket(port: int) -> socket.socket:
    """A client with a tiny receive window (set before connecting, so the window is small)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    raw = b""
    while marker not in raw:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed early: {raw[:300]!r}"
        raw += chunk
    return raw


def get(runner: FlashRunner, path: str) -> dict:
    with _OPENER.open(runner.url_for(path), timeout=5) as response:
        return json.loads(response.read())


def wait_state(runner: FlashRunner, check, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = {**get(runner, "/_probe"), **get(runner, "/_probe/downlinks")}
        if check(state) or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


@pytest.mark.parametrize("line", ["downlink", "private"])
@pytest.mark.parametrize("path", ["direct", "quart"])
@pytest.mark.parametrize("server", ["hypercorn", "uvicorn"])
def test_a_reader_that_stops_reading_is_cut_and_its_generator_ends(server, path, line, capfd):
    app, probe, stream_id = stalled_app(path)
    runner = FlashRunner()
    runner.start(app, server=server)
    sockets = []
    try:
        port = runner.port
        stream_path = f"/_flash/stream/{stream_id}"
        reader = slow_socket(port)
        sockets.append(reader)
        if line == "downlink":
            reader.sendall(request_bytes(port, "/_flash/downlink", {"downlink": None, "runs": {}}))
            token = TOKEN.search(read_until(reader, b"\n\n")).group(1).decode()
            starter = socket.create_connection(("127.0.0.1", port), timeout=10)
            sockets.append(starter)
            starter.sendall(request_bytes(port, stream_path, start_body(token)))
            assert b'"run"' in read_until(starter, b'"run"')
            for _ in range(STREAMS - 1):
                starter.sendall(request_bytes(port, stream_path, start_body(token)))
                read_until(starter, b'"run"')
        else:  # a start for a downlink another worker holds: the answer is its own SSE line
            token = Signer(*resolve_secret(SECRET)).new_downlink()[1]
            reader.sendall(request_bytes(port, stream_path, start_body(token)))
            read_until(reader, b"event: started")
        streams = STREAMS if line == "downlink" else 1
        streaming = wait_state(runner, lambda s: s.get("started") == streams, 10)
        assert streaming["live"] == streams and streaming["open"] == 1, streaming
        # The client reads nothing more, and keeps its connection open: cut after the write
        # timeout (1 s), then every run ends within the resume window (0.5 s), not later.
        cut = wait_state(runner, lambda s: s["open"] == 0, 20)
        cut_at = time.monotonic()
        state = wait_state(runner, lambda s: s.get("closed") == streams and s["live"] == 0 and s["downlinks"] == 0, 20)
        ended_after = time.monotonic() - cut_at
        assert cut["open"] == 0, cut
        assert state == {"started": streams, "closed": streams, "live": 0, "downlinks": 0, "open": 0}, state
        assert ended_after < 0.5 + 2.5, f"runs ended {ended_after:.1f} s after the cut (resume window 0.5 s)"
        assert get(runner, "/_probe")["live"] == 0, "the server still answers"
    finally:
        for sock in sockets:
            sock.close()
        runner.stop()
    output = capfd.readouterr()
    logs = output.out + output.err
    assert "Traceback" not in logs, logs[-3000:]
    assert "socket.send() raised exception" not in logs
