"""W11: first page loads of a multi-page app (8 pages, opened at `/page-3`) and of an app with a
1,000-row `dash_table`, as page loads/s and server CPU per load; Flash ÷ Dash-quart ÷ raw.

A load is W6's three GETs (the page URL, `_dash-layout`, `_dash-dependencies`) cycled over 16
connections; the pages router's callback that fills the page afterwards is not part of it. Each
app runs on a server of its own (`benchmarks/page_apps.py`, picked by `BENCH_W11_APP`), so this
workload starts its servers itself, as the cluster workloads do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from ..contenders import Contender, Server
from ..load import http_load
from . import Config, Metric

NAME = "W11"
TITLE = "first page load of a pages app and of a 1,000-row table app"
TARGET = "none (reported): Flash ÷ Dash 4.4 quart and ÷ the raw floor"
CLUSTER = True  # starts its own servers (one per app), like W9/W10
CLUSTER_LABEL = " (own servers)"
APPS = ("pages", "table")
METRICS = [
    m
    for app in APPS
    for m in (
        Metric(f"{app}_pages_s", "pages/s", True, f"{app} app: page loads/s"),
        Metric(f"{app}_cpu_us", "us/page", False, f"{app} app: server CPU per load"),
    )
]
W11_APPS = {"flash": "w11_flash", "dash_quart": "w11_dash_quart", "raw": "w11_raw"}


def applies(contender: Any) -> bool:
    return contender.app in W11_APPS


def _one(contender: Contender, app: str, cfg: Config, log_dir: Path) -> dict[str, float]:
    from ..page_apps import PAGE_PATH, PATHS

    variant = Contender(contender.name, W11_APPS[contender.app], contender.server)
    requests = [("GET", PAGE_PATH[app], b"")] + [("GET", "/" + path, b"") for path in PATHS]
    with Server(variant, log_dir, env={"BENCH_W11_APP": app}) as server:
        for _, path, _ in requests:  # warm: each answer made once (and checked)
            for _ in range(3):
                response = httpx.get(server.url + path, timeout=30)
                if response.status_code != 200 or not response.content:
                    raise RuntimeError(f"{contender.name} {app}: GET {path} answered {response.status_code}")
        before = server.cpu_seconds()
        run = http_load(server.port, requests, cfg.w6_connections, cfg.w6_seconds)
        cpu = server.cpu_seconds() - before
    if run["errors"]:
        raise RuntimeError(f"{contender.name} {app}: {run['errors']} failed page requests")
    pages = max(1, run["requests"]) / len(requests)
    return {f"{app}_pages_s": run["rps"] / len(requests), f"{app}_cpu_us": cpu / pages * 1e6}


def measure_cluster(contender: Contender, cfg: Config, log_dir: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    errors = []
    for app in APPS:
        try:
            figures.update(_one(contender, app, cfg, log_dir))
        except Exception as err:  # the other app still runs
            errors.append(f"{app}: {type(err).__name__}: {err}")
    figures["errors"] = errors
    return figures
