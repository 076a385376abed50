"""Polling helpers shared by the runners, the browser composite and tests."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Callable, TypeVar

from dash.testing.errors import TestingTimeoutError

T = TypeVar("T")

# Never route loopback health checks through an HTTP(S)_PROXY from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.05,
    msg: str = "",
) -> T:
    """Poll `predicate` until it returns something truthy and return that value.

    Exceptions raised by the predicate (e.g. a failing `assert`) count as "not yet"; the last
    one is reported if `timeout` seconds pass, so the failure says *why* it never became true.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last_error = None
        except Exception as error:
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TestingTimeoutError(f"{msg or 'condition'} not met within {timeout}s{detail}") from last_error
        time.sleep(interval)


def http_answers(url: str, timeout: float = 2.0) -> bool:
    """True once the server sends any HTTP response (even an error status) for `url`."""
    try:
        with _OPENER.open(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False
