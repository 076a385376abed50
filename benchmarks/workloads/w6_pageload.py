"""W6: first page load, i.e. GET index + `_dash-layout` + `_dash-dependencies`, as page loads/s.

The raw floor serves the bytes the real app produced, captured once at start-up.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..contenders import Server
from ..load import http_load
from . import Config, Metric

NAME = "W6"
TITLE = "first page load (index + layout + dependencies)"
TARGET = "Flash >= Dash 4.4 quart"
METRICS = [Metric("pages_s", "pages/s", True, "page loads/s"), Metric("cpu_us", "us/page", False, "server CPU per page load")]
PATHS = ("/", "/_dash-layout", "/_dash-dependencies")


def applies(contender: Any) -> bool:
    return True


def measure(server: Server, cfg: Config) -> dict[str, Any]:
    for path in PATHS:
        response = httpx.get(server.url + path, timeout=10)
        if response.status_code != 200 or not response.content:
            raise RuntimeError(f"{server.contender.name}: GET {path} answered {response.status_code}")
    requests = [("GET", path, b"") for path in PATHS]  # the server is warm: W2 ran before on it
    before = server.cpu_seconds()
    run = http_load(server.port, requests, cfg.w6_connections, cfg.w6_seconds)
    cpu = server.cpu_seconds() - before
    if run["errors"]:
        raise RuntimeError(f"{server.contender.name}: {run['errors']} failed page requests")
    pages = max(1, run["requests"]) / len(PATHS)
    return {"pages_s": run["rps"] / len(PATHS), "requests_s": run["rps"], "cpu_us": cpu / pages * 1e6}
