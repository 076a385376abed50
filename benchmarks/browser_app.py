"""The Flash app the browser benchmarks load: `hypercorn 'benchmarks.browser_app:server()'`.

Two event callbacks. `probe` stamps every message with its send time (wall clock, ms) so the
page can tell how long each one took to reach the DOM; `endless` is a live chart that never
stops, for watching the page's memory. What they do (how many messages, how fast, text or
`Patch` appends) comes from the `config` store, which the driver sets before each click: one
server serves every case.
"""
from __future__ import annotations

import asyncio
import math
import time
from typing import Any, AsyncIterator

from flash import Flash, Input, Patch, State, dcc, html, stream_props

CONFIG = "config"  # dcc.Store: {"count", "interval_ms", "mode", "max_points"}
PROBE_GO, PROBE_TEXT, PROBE_LIST, PROBE_DONE = "probe-go", "probe-text", "probe-list", "probe-done"
ENDLESS_GO, ENDLESS_GRAPH, ENDLESS_TEXT = "endless-go", "endless-graph", "endless-text"


def stamp(seq: int) -> str:
    """`#<seq>@<send time in ms>`: the page parses this back out of whatever reaches the DOM."""
    return f"#{seq}@{time.time() * 1000:.3f}"


def _layout() -> Any:
    graph = {"data": [{"x": [], "y": [], "type": "scatter", "mode": "lines"}],
             "layout": {"margin": {"t": 20, "l": 40, "r": 10, "b": 30}, "uirevision": "keep"}}
    return html.Div([
        dcc.Store(id=CONFIG, data={}),
        html.Button("probe", id=PROBE_GO),
        html.Div(id=PROBE_TEXT),
        html.Div(id=PROBE_LIST, children=[]),
        html.Div(id=PROBE_DONE),
        html.Button("endless", id=ENDLESS_GO),
        html.Div(id=ENDLESS_TEXT),
        dcc.Graph(id=ENDLESS_GRAPH, figure=graph),
    ])


async def _probe_messages(cfg: dict[str, Any]) -> AsyncIterator[Any]:
    """`count` stamped messages, `interval_ms` apart (0: back to back, like W4's producer)."""
    count, interval = int(cfg.get("count", 100)), float(cfg.get("interval_ms", 20)) / 1000
    append = cfg.get("mode") == "append"
    for seq in range(count):
        if append:  # a Patch is never merged away: every message must reach the DOM
            patch = Patch()
            patch.append(html.Div(stamp(seq)))
            yield stream_props(PROBE_LIST, {"children": patch})
        else:  # a plain value: the client draws only the latest of each frame
            yield stream_props(PROBE_TEXT, {"children": stamp(seq)})
        await asyncio.sleep(interval)


async def _endless_ticks(cfg: dict[str, Any]) -> AsyncIterator[Any]:
    """A point on the chart (keeping `max_points`) and a line of text every `interval_ms`."""
    interval, keep = float(cfg.get("interval_ms", 50)) / 1000, int(cfg.get("max_points", 200))
    tick = 0
    while True:
        await asyncio.sleep(interval)
        value = math.sin(tick / 20) + (tick % 7) / 10
        yield stream_props([
            (ENDLESS_GRAPH, {"extendData": [{"x": [[tick]], "y": [[value]]}, [0], keep]}),
            (ENDLESS_TEXT, {"children": f"tick {tick} value {value:.4f}"}),
        ])
        tick += 1


def build() -> Flash:
    """The app, production settings (no dev tools), default heartbeat."""
    app = Flash(__name__, title="Flash browser benchmark")
    app.layout = _layout()

    @app.event_callback(Input(PROBE_GO, "n_clicks"), State(CONFIG, "data"))
    async def probe(n_clicks: Any, cfg: Any) -> Any:
        async for message in _probe_messages(cfg or {}):
            yield message
        yield stream_props(PROBE_DONE, {"children": f"done {n_clicks}"})

    @app.event_callback(Input(ENDLESS_GO, "n_clicks"), State(CONFIG, "data"))
    async def endless(_n_clicks: Any, cfg: Any) -> Any:
        async for message in _endless_ticks(cfg or {}):
            yield message

    return app


def server() -> Any:
    """Factory for the server command: only this process ever builds the app."""
    return build().server
