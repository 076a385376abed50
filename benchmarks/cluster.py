"""Two Flash workers sharing one real redis-server, for W9 and W10 (streams across workers).

Each worker is its own server process (`hypercorn --workers 1` or `uvicorn --workers 1`) on its
own loopback port, serving `benchmarks.serve:flash_cluster` with the same `FLASH_SECRET_KEY` and
`FLASH_SHARED_STORAGE=redis://...`: what a round-robin balancer in front of them would reach,
without a balancer process competing for the cores. Debian's `redis-server` runs without
persistence on a free port. Everything is stopped (SIGTERM, then SIGKILL) when the block ends.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from .client import HOST
from .contenders import Contender, Server, free_port


def missing_parts() -> str:
    """Why W9/W10 cannot run here ("" when they can): they need redis-server and redis-py."""
    problems = []
    if shutil.which("redis-server") is None:
        problems.append("redis-server (apt-get install -y redis-server)")
    if importlib.util.find_spec("redis") is None:
        problems.append("the redis package (pip install 'dash-flash[redis]')")
    return ", ".join(problems)


class RedisServer:
    """`redis-server` on a free loopback port, no persistence; `pid` for its CPU time."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        self._dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "RedisServer":
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing: apt-get install -y redis-server")
        log = open(self._dir / f"redis-{self.port}.log", "wb")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._dir),
                "--maxclients",
                "20000",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 20.0) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited ({self.proc.returncode})")
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    time.sleep(0.05)
            raise RuntimeError(f"redis-server did not answer PING within {timeout}s")
        finally:
            client.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
            self.proc = None


class Cluster:
    """redis-server + two workers of `server` ("hypercorn" or "uvicorn"), ready when entered.
    `redis=False, workers=1`: W9's reference, one worker with no shared storage (in memory)."""

    def __init__(self, name: str, server: str, log_dir: Path, workers: int = 2, redis: bool = True) -> None:
        self.redis = RedisServer(log_dir) if redis else None
        contender = Contender(name, "flash_cluster", server)
        env = {"FLASH_SHARED_STORAGE": self.redis.url if self.redis else "none", "FLASH_SECRET_KEY": secrets.token_hex(32)}
        self.workers = [Server(contender, log_dir, env=env) for _ in range(workers)]
        self.info: dict[str, Any] = {}

    def __enter__(self) -> "Cluster":
        problem = missing_parts() if self.redis else ""
        if problem:
            raise RuntimeError(f"W9/W10 need {problem}")
        if self.redis:
            self.redis.__enter__()
        try:
            for worker in self.workers:
                worker.__enter__()
            self.info = httpx.get(self.workers[0].url + "/_bench/info", timeout=10).json()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        for worker in self.workers:
            worker.stop()
        if self.redis:
            self.redis.__exit__()

    @property
    def ports(self) -> list[int]:
        """Two ports: with one worker, its port twice (the clients spread over `ports[i % 2]`)."""
        return [w.port for w in self.workers] * (2 // len(self.workers))

    @property
    def redis_pids(self) -> list[int]:
        return [self.redis.pid] if self.redis else []

    @property
    def worker_pids(self) -> list[int]:
        return [w.worker_pid for w in self.workers]

    def log_tail(self, lines: int = 8) -> str:
        return "\n".join(w.log_tail(lines) for w in self.workers)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes have used so far (summed)."""
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total
