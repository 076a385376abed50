"""Graceful shutdown on real servers: SIGTERM to `hypercorn`/`uvicorn` (as `kill <pid>`, `docker
stop` or a deploy sends it) gives an open downlink its final `shutdown` event, runs every open
stream's `finally` (async and sync generators) and lets the process exit well within the bound,
instead of waiting for open downlinks that never end (see flash/server/shutdown.py)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

from flash.testing.sse import parse_events
from tests.integration.cluster import post

PYTHON = sys.executable
EXIT_BOUND = 20.0  # seconds: generous (the grace is 5 s); a server waiting on open downlinks never exits

APP = """
import asyncio, os, pathlib, time
from flash import Flash, Input, event_callback, html, stream_props

MARKS = pathlib.Path(os.environ["MARKS"])
app = Flash(__name__, shutdown_grace=5)
app.layout = html.Div([html.Button(id="go"), html.Div(id="out")])


@event_callback(Input("go", "n_clicks"))
async def endless(n):
    try:
        i = 0
        while True:
            i += 1
            yield stream_props("out", {"children": i})
            await asyncio.sleep(0.05)
    finally:
        await asyncio.sleep(0.2)  # an async cleanup gets its time too
        (MARKS / "finally-async").write_text(str(os.getpid()))


@event_callback(Input("go", "n_clicks"))
def endless_sync(n):
    try:
        i = 0
        while True:
            i += 1
            yield stream_props("out", {"children": i})
            time.sleep(0.05)
    finally:
        (MARKS / "finally-sync").write_text(str(os.getpid()))


@app.server.route("/stream-ids")
async def stream_ids():
    return {"async": endless.stream_id, "sync": endless_sync.stream_id}
"""

SERVERS = {
    # Hypercorn's CLI default runs one worker process that its parent stops with an event.
    "hypercorn": [PYTHON, "-m", "hypercorn", "shutapp:app.server", "--bind", "127.0.0.1:{port}"],
    # ... and with --workers 0 the server itself, stopped by the signal.
    "hypercorn-inprocess": [PYTHON, "-m", "hypercorn", "shutapp:app.server", "--bind", "127.0.0.1:{port}", "--workers", "0"],
    "uvicorn": [PYTHON, "-m", "uvicorn", "shutapp:app.server", "--host", "127.0.0.1", "--port", "{port}"],
}


def _read_until(response: http.client.HTTPResponse, raw: bytes, done: Callable[[bytes], bool]) -> bytes:
    while not done(raw):
        chunk = response.read1(65536)
        if not chunk:
            break
        raw += chunk
    return raw


@pytest.mark.parametrize("server_name", sorted(SERVERS))
def test_sigterm_ends_open_streams_with_a_final_event_and_their_finally(
    app_process: Callable[..., Any], tmp_path: Path, server_name: str
) -> None:
    (tmp_path / "shutapp.py").write_text(textwrap.dedent(APP))
    marks = tmp_path / "marks"
    marks.mkdir()
    server = app_process(SERVERS[server_name], env={"MARKS": str(marks)})
    ids = json.loads(server.wait_until("/stream-ids", lambda status, _: status == 200, msg="serving"))

    downlink = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
    downlink.request("POST", "/_flash/downlink", json.dumps({"downlink": None, "runs": {}}), {"Content-Type": "application/json"})
    response = downlink.getresponse()
    assert response.status == 200
    raw = _read_until(response, b"", lambda r: b"\n\n" in r)
    token = json.loads(parse_events(raw)[0]["data"])["downlink"]
    for kind in ("async", "sync"):
        body = {
            "inputs": [{"id": "go", "property": "n_clicks", "value": 1}],
            "state": [],
            "changedPropIds": ["go.n_clicks"],
            "downlink": token,
        }
        status, answer = post(server.port, f"/_flash/stream/{ids[kind]}", body)
        assert status == 200 and "run" in answer, answer
    raw = _read_until(response, raw, lambda r: r.count(b"event: props") >= 6)
    assert not list(marks.iterdir()), "the streams are running"

    os.kill(server.proc.pid, signal.SIGTERM)  # the server's main process only, as `kill <pid>`
    raw = _read_until(response, raw, lambda r: False)  # to the end of the response
    downlink.close()
    try:
        server.proc.wait(EXIT_BOUND)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{server_name} still running {EXIT_BOUND} s after SIGTERM:\n{server.output()[-3000:]}")

    events = [event["event"] for event in parse_events(raw)]
    assert events[-1] == "shutdown", (events[-5:], server.output()[-2000:])
    assert sorted(p.name for p in marks.iterdir()) == ["finally-async", "finally-sync"], server.output()[-2000:]
    assert "Traceback" not in server.output(), server.output()[-3000:]
