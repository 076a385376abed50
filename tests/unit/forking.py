"""Waiting for a forked test child without hanging the suite (the fork tests of the thread pool)."""

from __future__ import annotations

import os
import signal
import time


def child_exit_code(pid: int, timeout: float, what: str) -> int:
    """The exit code of child `pid`; kills it and fails the test if it is not done in `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"{what} hung on the pool")
        time.sleep(0.02)
