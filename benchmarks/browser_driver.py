"""Processes for the browser benchmarks: the app's server and Debian's headless Chromium.

Both are context managers that stop everything they started, by pid, even when a measurement
fails. Nothing is ever downloaded: the browser and its driver must be Debian's.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import psutil
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from .client import HOST
from .contenders import REPO, Contender, Server

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
APP_MODULE = "benchmarks.browser_app"
T = TypeVar("T")


class AppServer(Server):
    """Hypercorn or Uvicorn serving a factory of `browser_app` (contenders.py only serves
    `benchmarks.serve`'s apps); readiness, worker lookup and stopping are `Server`'s."""

    def __init__(
        self,
        log_dir: Path,
        server: str = "hypercorn",
        factory: str = "server",
        module: str = APP_MODULE,
        python: str = sys.executable,
    ) -> None:
        super().__init__(Contender(f"flash-browser/{server}", "browser_app", server), log_dir)
        self.factory = factory
        self.module = module  # benchmarks.dash45_app, with Dash 4.5's venv as `python`, for W7's Dash 4.5 row
        self.python = python

    def command(self) -> list[str]:
        target = f"{self.module}:{self.factory}"
        if self.contender.server == "uvicorn":
            return [
                self.python,
                "-m",
                "uvicorn",
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--no-access-log",
                "--log-level",
                "warning",
                "--factory",
                target,
            ]
        return [
            self.python,
            "-m",
            "hypercorn",
            "--workers",
            "1",
            "--bind",
            f"{HOST}:{self.port}",
            "--graceful-timeout",
            "1",
            "--log-level",
            "warning",
            target + "()",
        ]

    def browser_connections(self) -> int:
        """Established TCP connections the worker holds on its port (the browser's)."""
        conns = psutil.Process(self.worker_pid).net_connections(kind="tcp")
        return sum(1 for c in conns if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == self.port)

    def __enter__(self) -> "AppServer":
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.command(), cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            self._wait_ready()
            self.worker_pid = self._find_worker()
        except BaseException:
            self.stop()
            raise
        return self


def missing_browser() -> str | None:
    """Why the benchmark cannot run here, or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.path.exists(path):
            return f"{path} not found: apt-get install -y {package} (the benchmark never downloads a browser)"
    return None


def browser_version() -> str:
    out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, check=False).stdout
    return out.strip() or "unknown"


class Chromium:
    """Headless Chromium driven by chromedriver; `driver` is the selenium WebDriver."""

    def __init__(self) -> None:
        self.service = Service(executable_path=CHROMEDRIVER)
        self.driver: Any = None

    def __enter__(self) -> "Chromium":
        options = Options()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--window-size=1280,900",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
        ):
            options.add_argument(flag)
        try:
            self.driver = webdriver.Chrome(service=self.service, options=options)
        except BaseException:
            self.close()
            raise
        self.driver.set_script_timeout(30)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _started(self) -> list[psutil.Process]:
        """chromedriver and everything under it (Chromium and its helpers)."""
        proc = getattr(self.service, "process", None)
        if proc is None:
            return []
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(proc.pid)
            return [root] + root.children(recursive=True)
        return []

    def close(self) -> None:
        """Quit politely, then kill by pid whatever of ours is still alive."""
        started = self._started()
        if self.driver is not None:
            with contextlib.suppress(Exception):
                self.driver.quit()
            self.driver = None
        with contextlib.suppress(Exception):
            self.service.stop()
        for proc in started:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(started, timeout=5)

    def cdp(self, command: str, **params: Any) -> Any:
        """A Chrome DevTools Protocol command on the current page."""
        return self.driver.execute_cdp_cmd(command, params)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def open(self, url: str, ready_id: str, flash: bool = True) -> None:
        """Load the app and wait until Dash has rendered `ready_id` and can take set_props (and,
        on a Flash page, Flash's client has loaded: `flash=False` for Dash 4.5's page)."""
        self.driver.get(url)
        wait_for(
            lambda: self.js(
                "return !!(document.getElementById(arguments[0]) && window.dash_clientside"
                " && window.dash_clientside.set_props && (window.flash || !arguments[1]))",
                ready_id,
                flash,
            ),
            30,
            f"the page never rendered #{ready_id}",
        )

    def set_props(self, updates: list[tuple[str, dict[str, Any]]]) -> None:
        """Set props from the page itself, as a clientside callback would."""
        self.js(
            "arguments[0].forEach(function (u) { window.dash_clientside.set_props(u[0], u[1]); });", [list(u) for u in updates]
        )

    def text(self, element_id: str) -> str:
        return self.js("var e = document.getElementById(arguments[0]); return e ? e.textContent : '';", element_id)

    def click(self, element_id: str) -> None:
        self.driver.find_element("id", element_id).click()

    def frame_interval_ms(self, frames: int = 30) -> float:
        """Median time between animation frames: the client applies stream updates once per frame."""
        stamps = self.driver.execute_async_script(
            "var done = arguments[1], n = arguments[0], t = [];"
            "function step(ts) { t.push(ts); if (t.length > n) { done(t); } else { requestAnimationFrame(step); } }"
            "requestAnimationFrame(step);",
            frames,
        )
        gaps = sorted(b - a for a, b in zip(stamps, stamps[1:]))
        return gaps[len(gaps) // 2]


def wait_for(predicate: Callable[[], T], timeout: float, what: str, every: float = 0.05) -> T:
    """Poll `predicate` until it returns something truthy; TimeoutError saying `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"after {timeout:.0f}s: {what}")
        time.sleep(every)
