"""A window into a Flash app served in a forked child: counters, gates and a network cut.

Browser tests serve the app from another process, so server-side facts (how many runs are
live, whether a generator's `finally` ran) are read back over HTTP routes added to `app.server`.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections import Counter
from typing import Any, Callable

# Never send loopback probes through an HTTP(S)_PROXY from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Probe:
    """Routes under `/_probe` on `app.server`; the counters and gates live in the server process."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()
        self.gates: dict[str, asyncio.Event] = {}
        self.refuse_until = 0.0
        server = app.server

        async def state() -> dict[str, Any]:
            return {"live": len(app.stream_runs), **self.counts}

        async def release(name: str) -> dict[str, Any]:
            self.gate(name).set()
            return {"released": name}

        async def drop() -> dict[str, Any]:
            return {"dropped": drop_connections(app)}

        async def close_all() -> dict[str, Any]:
            runs = app.stream_runs.runs()
            for run in runs:
                run.close()
            return {"closed": len(runs)}

        async def refuse(seconds: str) -> dict[str, Any]:
            self.refuse_until = time.monotonic() + float(seconds)
            return {"refusing": float(seconds)}

        async def downlinks() -> dict[str, Any]:
            return {
                "downlinks": len(app.stream_runs.downlinks),
                "open": sum(1 for d in app.stream_runs.downlinks.values() if d.listener is not None),
            }

        server.add_url_rule("/_probe", "probe_state", state)
        server.add_url_rule("/_probe/refuse/<seconds>", "probe_refuse", refuse)
        server.add_url_rule("/_probe/downlinks", "probe_downlinks", downlinks)
        server.add_url_rule("/_probe/close", "probe_close", close_all)
        server.add_url_rule("/_probe/release/<name>", "probe_release", release)
        server.add_url_rule("/_probe/drop", "probe_drop", drop)

    # --- server side (called from generators and callbacks) -----------------------------
    def gate(self, name: str) -> asyncio.Event:
        """An event a generator can wait on until the test calls `release(name)`."""
        if name not in self.gates:
            self.gates[name] = asyncio.Event()
        return self.gates[name]

    def refusing(self) -> bool:
        """Whether a test asked that downlink requests fail for now (see `refuse`)."""
        return time.monotonic() < self.refuse_until

    def count(self, name: str) -> None:
        self.counts[name] += 1

    # --- test side ----------------------------------------------------------------------
    @staticmethod
    def _get(duo: Any, path: str) -> dict[str, Any]:
        with _OPENER.open(duo.server.url_for(path), timeout=5) as response:
            return json.loads(response.read())

    def state(self, duo: Any) -> dict[str, Any]:
        return self._get(duo, "/_probe")

    def release(self, duo: Any, name: str) -> None:
        self._get(duo, f"/_probe/release/{name}")

    def close_all(self, duo: Any) -> int:
        """Close every run server-side (as a DELETE from elsewhere or a shutdown would)."""
        return self._get(duo, "/_probe/close")["closed"]

    def refuse(self, duo: Any, seconds: float) -> None:
        """Downlink requests answer 503 for `seconds` (an app with a before_request hook that
        checks `refusing()` only)."""
        self._get(duo, f"/_probe/refuse/{seconds}")

    def downlinks(self, duo: Any) -> dict[str, int]:
        """How many downlinks the server holds, and how many have an open response."""
        return self._get(duo, "/_probe/downlinks")

    def drop(self, duo: Any) -> int:
        return self._get(duo, "/_probe/drop")["dropped"]

    def wait_state(self, duo: Any, check: Callable[[dict[str, Any]], bool], msg: str, timeout: float = 10) -> dict[str, Any]:
        """Poll the server until `check(state)` holds; returns that state."""

        def ready() -> dict[str, Any]:
            state = self.state(duo)
            assert check(state), f"server state {state}"
            return state

        return duo.wait_for(ready, timeout=timeout, msg=msg)


def texts(duo: Any, selector: str) -> list[str]:
    """Text of every match, read in one script call (no stale elements while React re-renders)."""
    return duo.driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(function (e) { return e.textContent; });",
        selector,
    )


def running(duo: Any) -> list[str]:
    """Stream ids the page's Flash client is running."""
    return duo.driver.execute_script("return window.flash.running()")


def drop_connections(app) -> int:
    """Cut every open downlink of `app` without closing its runs (a simulated network drop)."""
    count = 0
    for downlink in list(app.stream_runs.downlinks.values()):
        if downlink.listener is not None:
            downlink.cut()
            count += 1
    return count
