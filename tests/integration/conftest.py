"""Fixtures for running an app the way users do: as a separate `python app.py` / server process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

import psutil
import pytest

from flash.testing import wait_for

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_gone(pid: int) -> bool:
    """Whether `pid` has exited (a zombie waiting for its parent counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def run_background_job(duo, kind: str, timeout: float = 15) -> None:
    """Click `#run-<kind>` of the background-callback test apps and wait until its job has sent
    progress, its result, its last step and its set_props, and `running=` has been undone."""
    duo.find_element(f"#run-{kind}").click()
    # While the job runs its buttons are swapped by `running=` and progress comes in.
    duo.wait_for(
        lambda: duo.find_element("#cancel").get_attribute("disabled") is None, timeout=timeout, msg="cancel enabled while running"
    )
    duo.wait_for(lambda: duo.find_element("#progress").text.startswith(f"{kind} step"), timeout=timeout, msg=f"{kind} progress")
    duo.wait_for_text_to_equal("#result", f"{kind} result 1", timeout=timeout + 5)
    duo.wait_for_text_to_equal("#progress", f"{kind} step 3/3")
    duo.wait_for_text_to_equal("#side", f"{kind} set_props 1")
    duo.wait_for(lambda: duo.find_element("#run-sync").get_attribute("disabled") is None, timeout=5, msg="run enabled again")


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    """(status, body) of a GET; HTTP errors are answers too."""
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def http_post_json(url: str, body: bytes, timeout: float = 5) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class AppProcess:
    """A server started as its own process (own session), its output captured to files."""

    def __init__(self, args: list[str], cwd: Path, port: int, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._out = cwd / f"server-{port}.out"
        self._err = cwd / f"server-{port}.err"
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "PORT": str(port), **(env or {})}
        with open(self._out, "wb") as out, open(self._err, "wb") as err:
            self.proc = subprocess.Popen(args, cwd=cwd, env=full_env, stdout=out, stderr=err, start_new_session=True)

    def get(self, path: str) -> tuple[int, str]:
        return http_get(self.url + path)

    def post_json(self, path: str, body: bytes) -> tuple[int, str]:
        return http_post_json(self.url + path, body)

    def output(self) -> str:
        return self._out.read_text(errors="replace") + self._err.read_text(errors="replace")

    def wait_until(self, path: str, predicate: Callable[[int, str], bool], timeout: float = 30, msg: str = "") -> str:
        """Poll GET `path` until `predicate(status, body)` holds; fail early if the process died."""

        def check() -> str | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.output()[-3000:]}")
            try:
                status, body = http_get(self.url + path, timeout=2)
            except OSError:
                return None
            return body if predicate(status, body) else None

        try:
            return wait_for(check, timeout=timeout, interval=0.2, msg=msg or f"GET {path}")
        except Exception as error:
            raise AssertionError(f"{error}\n--- server output ---\n{self.output()[-3000:]}") from error

    def stop(self) -> None:
        """SIGTERM the process group (graceful), then SIGKILL whatever is left."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # stragglers of this session only
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait(5)


@pytest.fixture
def app_process(tmp_path: Path) -> Iterator[Callable[..., AppProcess]]:
    """`app_process(args, env=None)`: start a server command in tmp_path on a free port ($PORT)."""
    started: list[AppProcess] = []

    def start(args: list[str], env: dict[str, str] | None = None, port: int | None = None) -> AppProcess:
        port = port or free_port()
        args = [a.replace("{port}", str(port)) for a in args]
        process = AppProcess(args, tmp_path, port, env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real redis-server (Debian's) on a free loopback port, for this test only."""
    from tests.integration.cluster import RedisServer

    server = RedisServer(free_port(), tmp_path)
    server.start()
    try:
        yield server.url
    finally:
        server.kill()
