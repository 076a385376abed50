"""Several workers on one machine with zero configuration: no FLASH_SECRET_KEY, no shared storage,
`uvicorn --workers 2`, `hypercorn --workers 2`, `gunicorn -k asgi -w 2` and gunicorn with
Uvicorn's worker. The workers share the machine's key file (flash/streaming/wire/keyfile.py), so a
start that lands on either worker streams (on the downlink, or as a private line), and a reconnect
on another worker, or on the worker that replaced a killed one, is accepted, never a 403."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import stat
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from flash.testing import wait_for
from flash.testing.sse import parse_events
from tests.integration.cluster import start_body

PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
ATTEMPTS = 150  # starts at most; the test stops once both workers ran enough of them
RESUME_WINDOW = 2
APP = """
import asyncio, os
from flash import Flash, Input, State, event_callback, html, stream_props

app = Flash(__name__, shared_storage=None, stream_resume_window={window})
app.layout = html.Div([html.Button(id="go"), html.Div(id="rows"), html.Div(id="out")])


@event_callback(Input("go", "n_clicks"), State("rows", "children"))
async def whose(n, _rows):
    yield stream_props("out", {"children": f"run {n} on {os.getpid()}"})
    await asyncio.sleep(0.01)
    yield stream_props("out", {"children": f"end {n} on {os.getpid()}"})


@app.server.route("/whoami")
async def whoami():
    return {"pid": os.getpid(), "stream": whose.stream_id}


server = app.server
"""
SERVERS = {
    "uvicorn": [PYTHON, "-m", "uvicorn", "app:server", "--host", "127.0.0.1", "--port", "{port}", "--workers", "2"],
    "hypercorn": [PYTHON, "-m", "hypercorn", "app:server", "--bind", "127.0.0.1:{port}", "--workers", "2"],
    "gunicorn-asgi": [GUNICORN, "-k", "asgi", "-w", "2", "-b", "127.0.0.1:{port}", "app:server"],
    "gunicorn-uvicorn": [GUNICORN, "-k", "uvicorn.workers.UvicornWorker", "-w", "2", "-b", "127.0.0.1:{port}", "app:server"],
}
RESTARTS_KILLED_WORKERS = {"uvicorn", "gunicorn-asgi", "gunicorn-uvicorn"}  # Hypercorn stops instead


class Line(threading.Thread):
    """One open SSE response (the downlink, or a private line), read in the background."""

    def __init__(self, conn: http.client.HTTPConnection, sock: socket.socket, response: http.client.HTTPResponse) -> None:
        super().__init__(daemon=True)
        self.conn, self.sock, self.response = conn, sock, response
        self.raw = b""
        self.lock = threading.Lock()
        self.start()

    def run(self) -> None:
        try:
            while chunk := self.response.read1(65536):
                with self.lock:
                    self.raw += chunk
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed by the test, or the worker died

    def events(self) -> list[dict[str, str]]:
        with self.lock:
            return parse_events(self.raw)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader (closing alone waits for its read)
        except OSError:
            pass
        self.conn.close()


class Page:
    """The browser hub's side: one downlink, the private lines other workers answer starts with."""

    def __init__(self, port: int, stream_id: str) -> None:
        self.port, self.stream_id = port, stream_id
        self.refused: list[tuple[int, bytes]] = []
        self.downlink = self.post("/_flash/downlink", {"downlink": None, "runs": {}})
        assert isinstance(self.downlink, Line), self.refused
        self.token = self.hello(self.downlink)["downlink"]
        self.lines = [self.downlink]

    def post(self, path: str, body: Any) -> Line | Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)  # a new connection: any worker
        conn.connect()
        sock = conn.sock
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        if response.status != 200:
            self.refused.append((response.status, response.read()))
            conn.close()
            return None
        if response.headers["Content-Type"].startswith("text/event-stream"):
            return Line(conn, sock, response)
        answer = json.loads(response.read())
        conn.close()
        return answer

    @staticmethod
    def hello(line: Line) -> dict[str, Any]:
        wait_for(lambda: line.events(), timeout=20, msg="hello")
        first = line.events()[0]
        assert first["event"] == "hello", first
        return dict(json.loads(first["data"]))

    def start(self, n: int) -> tuple[Line, list[str], str] | None:
        """Start run `n` on whichever worker takes the connection: (the line it streamed on, its
        `out` values, its handle), or None when the start was refused."""
        answer = self.post(f"/_flash/stream/{self.stream_id}", start_body(self.token, n=n))
        if answer is None:
            return None
        if isinstance(answer, Line):  # a worker without this downlink: a private line
            self.lines.append(answer)
            assert self.hello(answer) == {"downlink": self.token, "resumed": False, "private": True}
            wait_for(lambda: any(e["event"] == "started" for e in answer.events()), timeout=20, msg="started")
            handle = json.loads(next(e for e in answer.events() if e["event"] == "started")["data"])["run"]
        else:
            handle = answer["run"]
        run_id = handle.split(".", 1)[0]

        def finished() -> tuple[Line, list[str], str] | None:
            for line in self.lines:
                messages = [
                    (e["event"], json.loads(e["data"]))
                    for e in line.events()[1:]
                    if e["event"] in ("props", "done", "error", "gone")
                ]
                mine = [(event, body) for event, body in messages if body["run"] == run_id]
                if mine and mine[-1][0] != "props":
                    assert mine[-1][0] == "done", mine
                    return line, [props["children"] for _, body in mine[:-1] for cid, props in body["data"]], handle
            return None

        return wait_for(finished, timeout=20, msg=f"run {n} done on some line")

    def close(self) -> None:
        for line in self.lines:
            line.close()


def _pid_of(values: list[str], n: int) -> int:
    assert len(values) == 2 and values[0].startswith(f"run {n} on ") and values[1].startswith(f"end {n} on "), values
    pids = {int(value.rsplit(" ", 1)[1]) for value in values}
    assert len(pids) == 1, values
    return pids.pop()


@pytest.mark.parametrize("name", list(SERVERS))
def test_n_workers_without_a_configured_key_share_streams_and_resumes(
    app_process: Callable[..., Any], tmp_path: Path, name: str
) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(APP).replace("{window}", str(RESUME_WINDOW)))
    temp = tmp_path / "tmp"  # where the workers' temp dir, and so the machine's key file, is
    temp.mkdir()
    env = {"TMPDIR": str(temp), "FLASH_SECRET_KEY": "", "DASH_SECRET_KEY": ""}
    server = app_process(SERVERS[name], env=env)
    info = json.loads(server.wait_until("/whoami", lambda status, _: status == 200, timeout=60, msg="serving"))
    key_file = temp / f"flash-shared-{os.getuid()}" / "handles.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    page = Page(server.port, info["stream"])
    try:
        by_pid: dict[int, int] = {}
        on_downlink: set[int] = set()
        for n in range(1, ATTEMPTS + 1):
            result = page.start(n)
            assert result is not None, f"start {n} refused: {page.refused}\n{server.output()[-3000:]}"
            line, values, handle = result
            pid = _pid_of(values, n)
            by_pid[pid] = by_pid.get(pid, 0) + 1
            if line is page.downlink:
                on_downlink.add(pid)
                run_handle = handle
            if len(by_pid) == 2 and min(by_pid.values()) >= 3:
                break
        assert len(by_pid) == 2, f"{ATTEMPTS} starts all reached one worker: {by_pid}"
        assert min(by_pid.values()) >= 3 and not page.refused, (by_pid, page.refused)
        assert len(on_downlink) == 1, on_downlink  # the other worker's runs came on its private line
        holder = on_downlink.pop()

        # The page comes back after the resume window (both workers forgot the downlink), here
        # after the holder was killed and replaced where the server does that: whichever worker
        # takes each reconnect reads the token and the run handle: a new downlink, the run gone.
        page.close()
        if name in RESTARTS_KILLED_WORKERS:
            os.kill(holder, signal.SIGKILL)
        time.sleep(RESUME_WINDOW + 2)
        for _ in range(10):
            line = page.post("/_flash/downlink", {"downlink": page.token, "runs": {run_handle: 2}})
            assert line is not None, f"reconnect refused: {page.refused}\n{server.output()[-3000:]}"
            page.lines.append(line)
            hello = page.hello(line)
            assert hello["resumed"] is False and hello["downlink"] != page.token, hello
            wait_for(lambda: [e["event"] for e in line.events()] == ["hello", "gone"], timeout=20, msg="gone")
            line.close()
    finally:
        page.close()
