"""W2: trivial-callback throughput over HTTP at 16 and 64 keep-alive connections.

The ASGI contenders serve the `async def` trivial callback; Dash on Flask serves the same
callback written as a plain `def` (it has no event loop to await on).
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from .. import apps
from ..contenders import Server
from ..load import http_load
from . import Config, Metric

NAME = "W2"
TITLE = "trivial-callback throughput over HTTP"
TARGET = "Flash >= 2x Dash 4.4 quart on the same server"
METRICS = [Metric(f"c{n}", "req/s", True, f"{n} connections") for n in (16, 64)] + [
    Metric("cpu_us", "us/req", False, "server CPU per request"),
]
PATH = "/_dash-update-component"


def target_for(app: str) -> tuple[str, str]:
    return apps.TRIVIAL_SYNC if app == "dash_flask" else apps.TRIVIAL_ASYNC


def applies(contender: Any) -> bool:
    return True


def check_answer(server: Server, body: dict[str, Any], expected: dict[str, Any]) -> None:
    """One request first: a fast wrong answer must not count as throughput."""
    response = httpx.post(server.url + PATH, json=body, timeout=10)
    if response.status_code != 200 or response.json() != expected:
        raise RuntimeError(f"{server.contender.name}: callback answered {response.status_code} {response.text[:200]}")


def measure(server: Server, cfg: Config) -> dict[str, Any]:
    target = target_for(server.contender.app)
    body = apps.callback_body(target)
    check_answer(server, body, {"multi": True, "response": {target[0]: {"children": "clicked 1"}}})
    request = [("POST", PATH, orjson.dumps(body))]
    http_load(server.port, request, 16, 1.0)  # warm-up
    result: dict[str, Any] = {}
    cpu, requests = 0.0, 0
    for connections in cfg.w2_connections:
        before = server.cpu_seconds()
        run = http_load(server.port, request, connections, cfg.w2_seconds)
        cpu += server.cpu_seconds() - before
        requests += run["requests"]
        if run["errors"]:
            raise RuntimeError(f"{server.contender.name}: {run['errors']} failed requests at {connections} connections")
        result[f"c{connections}"] = run["rps"]
        result[f"c{connections}_p99_ms"] = run.get("p99_ms")
    result["cpu_us"] = cpu / max(1, requests) * 1e6
    return result
