"""The contenders (app x server) and their server processes: start, find the worker, stop.

Every server is a subprocess bound to 127.0.0.1 on a free port with one worker, started in its
own session so that stopping it ends exactly the processes it spawned.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from .client import HOST

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Contender:
    name: str  # e.g. "flash/hypercorn"
    app: str  # attribute of benchmarks.serve
    server: str  # hypercorn | uvicorn | gunicorn
    # A variant of the same app and server (e.g. metrics on): variables set in its server's
    # environment, and what the label calls it. Workloads see `app` unchanged, so each one that
    # runs the plain contender runs the variant too.
    env: tuple[tuple[str, str], ...] = ()
    variant: str = ""

    @property
    def is_flash(self) -> bool:
        return self.app == "flash"

    @property
    def label(self) -> str:
        names = {
            "flash": "Flash",
            "flash_cluster": "Flash (bus on Redis)",
            "dash_quart": "Dash 4.4 quart",
            "dash_flask": "Dash 4.4 flask",
            "raw": "raw ASGI",
            "dash45": "Dash 4.5 quart",
            "dash45_frames": "Dash 4.5 quart",
        }
        variant = f" + {self.variant}" if self.variant else ""
        return f"{names[self.app]}{variant} / {self.server}"

    @property
    def is_dash45(self) -> bool:
        """Served by Dash 4.5 from its own venv (benchmarks/dash45.py), not this interpreter."""
        return self.app.startswith("dash45")

    def python(self) -> str:
        if self.is_dash45:
            from . import dash45

            return str(dash45.ensure())
        return sys.executable


CONTENDERS = [
    Contender("flash/hypercorn", "flash", "hypercorn"),
    Contender("flash/uvicorn", "flash", "uvicorn"),
    Contender("dash-quart/hypercorn", "dash_quart", "hypercorn"),
    Contender("dash-quart/uvicorn", "dash_quart", "uvicorn"),
    Contender("dash-flask/gunicorn", "dash_flask", "gunicorn"),
    Contender("dash45/uvicorn", "dash45", "uvicorn"),  # Dash 4.5.0rc2 in benchmarks/.venv-dash45
    Contender("raw/hypercorn", "raw", "hypercorn"),
    Contender("raw/uvicorn", "raw", "uvicorn"),
]
# The cost of issue 26's metrics: Flash with them on, opt-in by name (`--contenders`; a default run
# does not start them). W1 runs in process, without a server: `FLASH_METRICS=1 [BENCH_OTEL=1]`
# in the environment of `python -m benchmarks.workloads.w1_inprocess flash N` measures the same
# (benchmarks/README.md, "Cost of metrics"). Only the single-worker workloads honour `env`: the
# cluster ones (W9, W10, SOAK) start their own workers without it.
METRICS_ON = (("FLASH_METRICS", "1"),)  # Prometheus figures, and OpenTelemetry spans through the API only
VARIANTS = [
    # Metrics counted, spans made through opentelemetry-api with no SDK configured (non-recording):
    # what `Flash(metrics=True)` costs an app that is scraped but does not trace.
    Contender("flash/uvicorn+metrics", "flash", "uvicorn", METRICS_ON, "metrics"),
    # Also an OpenTelemetry SDK recording every span, exported in batches to an exporter that
    # drops them (benchmarks/serve.py): the cost of tracing itself, without a collector's network.
    Contender("flash/uvicorn+otel", "flash", "uvicorn", METRICS_ON + (("BENCH_OTEL", "1"),), "metrics + otel"),
]
BY_NAME = {c.name: c for c in CONTENDERS + VARIANTS}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_command(contender: Contender, port: int) -> list[str]:
    target = f"benchmarks.serve:{contender.app}"  # a factory: see benchmarks/serve.py
    bind = f"{HOST}:{port}"
    python = contender.python()
    if contender.server == "hypercorn":
        return [
            python,
            "-m",
            "hypercorn",
            "--workers",
            "1",
            "--bind",
            bind,
            "--backlog",
            "2048",
            "--graceful-timeout",
            "1",
            "--log-level",
            "warning",
            target + "()",
        ]
    if contender.server == "uvicorn":
        return [
            python,
            "-m",
            "uvicorn",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            "1",
            "--backlog",
            "2048",
            "--no-access-log",
            "--log-level",
            "warning",
            "--factory",
            target,
        ]
    if contender.server == "gunicorn":
        return [
            python,
            "-m",
            "gunicorn",
            "-k",
            "gthread",
            "--threads",
            "16",
            "-w",
            "1",
            "-b",
            bind,
            "--backlog",
            "2048",
            "--log-level",
            "warning",
            target + "()",
        ]
    raise ValueError(contender.server)


# Flash's per-worker stream limits (flash/server/limits.py) are sized for production, where one
# address is one browser; the load client is one address holding up to 20,000 runs on 10,000+
# downlinks (W5, W9 at 10,000), so every Flash server here gets these raised (the table says so).
# Each reads its FLASH_* variable; a value set in the environment wins.
BENCH_LIMITS = {
    "FLASH_MAX_STREAMS": "100000",
    "FLASH_MAX_STREAMS_PER_CLIENT": "100000",
    "FLASH_MAX_STREAMS_PER_ADDRESS": "100000",
    "FLASH_MAX_DOWNLINKS": "100000",
    "FLASH_MAX_DOWNLINKS_PER_ADDRESS": "100000",
    "FLASH_STREAM_START_BUDGET": str(1 << 30),
}


class Server:
    """A running server process for one contender; use as a context manager."""

    def __init__(self, contender: Contender, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.contender = contender
        self.env = env or {}  # on top of os.environ: e.g. W9/W10's FLASH_SHARED_STORAGE
        self.port = free_port()
        self.log_path = log_dir / f"{contender.name.replace('/', '-')}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.worker_pid = 0

    def __enter__(self) -> "Server":
        path = f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
        env = {**BENCH_LIMITS, **os.environ, **dict(self.contender.env), **self.env, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            server_command(self.contender, self.port),
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            self._wait_ready()
        except Exception:
            self.stop()
            raise
        self.worker_pid = self._find_worker()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _wait_ready(self, timeout: float = 60.0) -> None:
        """Poll GET / until it answers 200: this also runs the app's first-request setup."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.contender.name} exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.contender.name} did not answer within {timeout}s:\n{self.log_tail()}")

    def _find_worker(self) -> int:
        """The process that runs the app: the biggest one in the server's process tree."""
        assert self.proc is not None
        root = psutil.Process(self.proc.pid)
        tree = [root] + root.children(recursive=True)
        return max(tree, key=lambda p: p.memory_info().rss).pid

    def cpu_seconds(self) -> float:
        """User + system CPU the worker has used so far (robust to other load on the machine)."""
        times = psutil.Process(self.worker_pid).cpu_times()
        return times.user + times.system

    def rss(self) -> int:
        return psutil.Process(self.worker_pid).memory_info().rss

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM the server's session, then SIGKILL whatever is left of it (workers too)."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the group id is the server's pid
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                continue
        self.proc = None


def new_log_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="flash-bench-"))
