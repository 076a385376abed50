"""Runners that serve a Flash (or any Dash) app with hypercorn/uvicorn for browser tests.

`FlashRunner` forks a child process (the app built inside the test function is inherited, no
pickling); `FlashThreadedRunner` serves from a background thread of the test process so
callbacks can touch test-local state. Both are call-compatible with Dash's runners:
`runner(app, **kwargs)` starts the app and `runner.url` is its address.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
import warnings
from typing import Any

import psutil
from dash.testing.application_runners import BaseDashRunner
from dash.testing.errors import DashAppLoadingError

from .serve import ServePlan, bind_socket, close_fd, prepare_app, run_server_forever, serve
from .wait import http_answers

logger = logging.getLogger(__name__)

DEFAULT_START_TIMEOUT = 15.0


class FlashServerError(DashAppLoadingError):
    """The app server died or never answered `GET /`."""


class FlashRunner(BaseDashRunner):
    """Serve `app.server` in a forked child process; stopping kills the whole process tree."""

    def __init__(self, keep_open: bool = False, stop_timeout: float = 5.0) -> None:
        super().__init__(keep_open=keep_open, stop_timeout=stop_timeout, host="127.0.0.1")
        self.port = 0
        self.server_kind = "hypercorn"
        self.proc: Any = None

    def start(
        self,
        app: Any,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        *,
        server: str = "hypercorn",
        host: str = "127.0.0.1",
        port: int | None = None,
        **kwargs: Any,
    ) -> str:
        """Serve `app` and block until `GET /` answers; returns the base URL.

        kwargs: `debug`, `dev_tools_*` (passed to `app.enable_dev_tools`), `server`
        ("hypercorn" or "uvicorn"), `host`, `port` (default: a free port) and the
        `app.run()`-only options Dash tests pass (`use_reloader`, ...), which are ignored.
        """
        if self.started:
            self.stop()
        plan = ServePlan.from_kwargs(app, server=server, **kwargs)
        sock = bind_socket(host, int(port or 0))
        self.host, self.port = host, sock.getsockname()[1]
        self.server_kind = plan.kind
        fd = os.dup(sock.fileno())
        try:
            self._launch(app, fd, plan)
        finally:
            sock.close()
        try:
            self._wait_ready(start_timeout)
        except BaseException:
            self.stop()
            raise
        self.started = True
        url: str = self.url
        logger.info("%s serving on %s", type(self).__name__, url)
        return url

    def url_for(self, path: str = "/") -> str:
        """Absolute URL of `path` on the running app, for HTTP-level checks."""
        return f"{self.url}/{path.lstrip('/')}"

    def _launch(self, app: Any, fd: int, plan: ServePlan) -> None:
        ctx = multiprocessing.get_context("fork")
        self.proc = ctx.Process(target=run_server_forever, args=(app, fd, plan), name=f"flash-server-{self.port}")
        self.proc.daemon = True
        try:
            with warnings.catch_warnings():
                # Fork is the point (the child inherits the app); 3.12+ warns if threads exist.
                warnings.filterwarnings("ignore", r".*fork\(\)", DeprecationWarning)
                self.proc.start()
        finally:
            close_fd(fd)  # the child holds its own copy

    def _death_reason(self) -> str | None:
        if self.proc is not None and not self.proc.is_alive():
            return f"the server process exited with code {self.proc.exitcode}"
        return None

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        target = self.url_for("/")
        while True:
            reason = self._death_reason()
            if reason:
                raise FlashServerError(
                    f"{self.server_kind} for the app on {self.url} failed to start: {reason} "
                    "(see the captured stderr for its traceback)"
                )
            if http_answers(target):
                return
            if time.monotonic() >= deadline:
                raise FlashServerError(f"{self.server_kind} did not answer GET {target} within {timeout}s")
            time.sleep(0.05)

    def stop(self) -> None:
        """Kill the server process and its children (e.g. background-callback workers)."""
        proc, self.proc = self.proc, None
        self.started = False
        if proc is None:
            return
        try:
            children = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        for child in children:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        if proc.is_alive():
            proc.kill()
        proc.join(self.stop_timeout)
        psutil.wait_procs(children, timeout=self.stop_timeout)
        if proc.is_alive():
            logger.warning("server process %s survived SIGKILL", proc.pid)


class FlashThreadedRunner(FlashRunner):
    """Serve `app.server` from a daemon thread with its own event loop (in-process state)."""

    def __init__(self, keep_open: bool = False, stop_timeout: float = 5.0) -> None:
        super().__init__(keep_open=keep_open, stop_timeout=stop_timeout)
        self.thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._shutdown: asyncio.Event | None = None
        self._error: BaseException | None = None

    def _launch(self, app: Any, fd: int, plan: ServePlan) -> None:
        self._error = None
        # Created here, not in the thread, so `stop()` can always reach it: a shutdown queued
        # with `call_soon_threadsafe` before the loop runs still fires once it does.
        loop = self._loop = asyncio.new_event_loop()
        shutdown = self._shutdown = asyncio.Event()

        def run() -> None:
            try:
                try:
                    prepare_app(app, plan)
                except BaseException:
                    close_fd(fd)  # the server never took ownership of it
                    loop.close()
                    raise
                # Runner cancels leftover tasks and shuts down async generators on exit.
                with asyncio.Runner(loop_factory=lambda: loop) as runner:
                    runner.run(serve(app.server, fd, plan.kind, shutdown, plan))
            except BaseException as error:
                self._error = error
                logger.exception("Flash test server thread crashed")

        self.thread = threading.Thread(target=run, name=f"flash-server-{self.port}", daemon=True)
        self.thread.start()

    def _death_reason(self) -> str | None:
        if self.thread is not None and not self.thread.is_alive():
            return f"the server thread exited ({self._error!r})"
        return None

    def stop(self) -> None:
        """Trigger a graceful server shutdown on its own loop and join the thread."""
        thread, loop, shutdown = self.thread, self._loop, self._shutdown
        self.thread = self._loop = None
        self.started = False
        if thread is None:
            return
        if loop is not None and shutdown is not None:
            try:
                loop.call_soon_threadsafe(shutdown.set)
            except RuntimeError:  # loop already closed: the server is gone
                pass
        thread.join(self.stop_timeout + 2)
        if thread.is_alive():
            logger.warning("Flash test server thread did not stop within %ss", self.stop_timeout)
