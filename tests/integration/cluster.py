"""Test helpers for several real workers: a redis-server that can be killed and restarted on its
port, a haproxy balancing round-robin over worker processes, and a raw HTTP downlink reader
(the browser hub's side of docs/streaming-protocol.md, on `http.client`)."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import redis

from flash.testing import wait_for
from flash.testing.sse import parse_events

HAPROXY_CFG = """
global
    maxconn 512
defaults
    mode http
    option http-server-close
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend web
    bind 127.0.0.1:{port}
    default_backend flash
backend flash
    balance roundrobin
{servers}
"""


class RedisServer:
    """Debian's redis-server on a fixed loopback port, without persistence: a restart is empty."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._dir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        server = shutil.which("redis-server")
        assert server, "redis-server is missing: scripts/test installs Debian's redis-server"
        self.proc = subprocess.Popen(
            [
                server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)

        def pings() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        try:
            wait_for(pings, timeout=10, msg="redis-server answers PING")
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


# What a production balancer adds: a health check every 200 ms that takes a dead worker out at
# its first failure, and a request that could not connect is retried on another worker.
HEALTH_CHECKS = "    option redispatch\n    retries 2\n    default-server check inter 200ms fall 1 rise 1\n"


class Haproxy:
    """haproxy balancing every request round-robin over `backends`; `checked=True` adds the
    health checks and redispatch of HEALTH_CHECKS (without them a dead worker still gets its
    turn of requests, answered 503)."""

    def __init__(self, port: int, backends: list[int], workdir: Path, checked: bool = False) -> None:
        binary = shutil.which("haproxy")
        assert binary, "haproxy is missing: scripts/test installs Debian's haproxy"
        servers = "\n".join(f"    server w{i} 127.0.0.1:{p}" for i, p in enumerate(backends))
        if checked:
            servers = HEALTH_CHECKS + servers
        cfg = workdir / "haproxy.cfg"
        cfg.write_text(HAPROXY_CFG.format(port=port, servers=servers))
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([binary, "-f", str(cfg), "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def post(port: int, path: str, body: Any) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def start_body(token: str, n: int = 1, rows: Any = None, trigger: str = "go") -> dict[str, Any]:
    """What the page posts to start a stream on Input(trigger, n_clicks), State(rows, children)."""
    return {
        "inputs": [{"id": trigger, "property": "n_clicks", "value": n}],
        "state": [{"id": "rows", "property": "children", "value": rows}],
        "changedPropIds": [f"{trigger}.n_clicks"],
        "downlink": token,
    }


class RawDownlink:
    """One `_flash/downlink` response on one worker, read as the page's hub reads it."""

    def __init__(self, port: int, token: str | None = None, runs: dict[str, int] | None = None, timeout: float = 20) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.conn.request(
            "POST", "/_flash/downlink", json.dumps({"downlink": token, "runs": runs or {}}), {"Content-Type": "application/json"}
        )
        self.response = self.conn.getresponse()
        assert self.response.status == 200, (self.response.status, self.response.read())
        self.raw = b""
        self.ended = False
        self.read_until(lambda events: len(events) >= 1)
        hello = parse_events(self.raw)[0]
        assert hello["event"] == "hello", hello
        data = json.loads(hello["data"])
        self.token: str = data["downlink"]
        self.resumed: bool = data["resumed"]

    def read_until(self, done: Callable[[list[dict[str, str]]], bool], within: float = 60) -> list[dict[str, str]]:
        """Read until `done`; keep-alives do not count as progress: after `within` s it fails."""
        deadline = time.monotonic() + within
        while not done(parse_events(self.raw)):
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing awaited came within {within} s: {self.raw[-600:]!r}")
            chunk = self.response.read1(65536)
            if not chunk:
                self.ended = True
                raise AssertionError(f"the downlink ended early: {self.raw[-600:]!r}")
            self.raw += chunk
        return parse_events(self.raw)

    def messages(self, run: str) -> list[tuple[str, int, Any]]:
        """(event, seq, data) of one run, by handle or id."""
        wanted = run.split(".", 1)[0]
        found = []
        for event in parse_events(self.raw)[1:]:
            if event["event"] in ("props", "done", "error", "gone"):
                body = json.loads(event["data"])
                if body["run"] == wanted:
                    found.append((event["event"], body["seq"], body["data"]))
        return found

    def until(self, run: str, done: Callable[[list[tuple[str, int, Any]]], bool]) -> list[tuple[str, int, Any]]:
        self.read_until(lambda _: done(self.messages(run)))
        return self.messages(run)

    def finished(self, run: str) -> list[tuple[str, int, Any]]:
        return self.until(run, lambda ms: bool(ms) and ms[-1][0] in ("done", "error", "gone"))

    def start(self, port: int, stream_id: str, **body: Any) -> str:
        """Start a run of this page on the worker at `port` (any worker)."""
        status, answer = post(port, f"/_flash/stream/{stream_id}", start_body(self.token, **body))
        assert status == 200 and set(answer) == {"run"}, (status, answer)
        return str(answer["run"])

    def close_runs(self, port: int, *handles: str) -> tuple[int, Any]:
        return post(port, "/_flash/close", {"downlink": self.token, "runs": list(handles)})

    def drop(self) -> None:
        """The network drops: the connection closes under the response."""
        self.conn.close()


def props_values(messages: list[tuple[str, int, Any]]) -> list[Any]:
    return [props["children"] for event, _, data in messages if event == "props" for cid, props in data if cid == "out"]


def start_celery_worker(module: str, cwd: Path, env: dict[str, str], log: Path) -> "subprocess.Popen[bytes]":
    """A real Celery worker (prefork, one child) on `module:celery_app`, ready to take jobs."""
    import os
    import sys

    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            f"{module}:celery_app",
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=cwd,
        env={**os.environ, **env, "PYTHONPATH": f"{cwd}{os.pathsep}{repo}"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for(lambda: proc.poll() is not None or b"ready." in log.read_bytes(), timeout=60, msg="Celery worker ready")
    assert proc.poll() is None, log.read_text()
    return proc
