"""The Flash apps the browser benchmarks load: `hypercorn 'benchmarks.browser_app:server()'`
(latency and heap) and `benchmarks.browser_app:many_server` (W7).

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

from flash import Flash, Input, Output, Patch, State, dcc, html, stream_props

CONFIG = "config"  # dcc.Store: {"count", "interval_ms", "mode", "max_points"}
PROBE_GO, PROBE_TEXT, PROBE_LIST, PROBE_DONE = "probe-go", "probe-text", "probe-list", "probe-done"
ENDLESS_GO, ENDLESS_GRAPH, ENDLESS_TEXT = "endless-go", "endless-graph", "endless-text"


def stamp(seq: int) -> str:
    """`#<seq>@<send time in ms>`: the page parses this back out of whatever reaches the DOM."""
    return f"#{seq}@{time.time() * 1000:.3f}"


def _layout() -> Any:
    graph = {
        "data": [{"x": [], "y": [], "type": "scatter", "mode": "lines"}],
        "layout": {"margin": {"t": 20, "l": 40, "r": 10, "b": 30}, "uirevision": "keep"},
    }
    return html.Div(
        [
            dcc.Store(id=CONFIG, data={}),
            html.Button("probe", id=PROBE_GO),
            html.Div(id=PROBE_TEXT),
            html.Div(id=PROBE_LIST, children=[]),
            html.Div(id=PROBE_DONE),
            html.Button("endless", id=ENDLESS_GO),
            html.Div(id=ENDLESS_TEXT),
            dcc.Graph(id=ENDLESS_GRAPH, figure=graph),
        ]
    )


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
        yield stream_props(
            [
                (ENDLESS_GRAPH, {"extendData": [{"x": [[tick]], "y": [[value]]}, [0], keep]}),
                (ENDLESS_TEXT, {"children": f"tick {tick} value {value:.4f}"}),
            ]
        )
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


# --- W7: an ordinary callback on a page with many endless streams --------------------------
from .w7_page import FIRST, FIRST_GO, MANY, PING, PONG, REST_GO, TICK_SECONDS, stream_out  # noqa: E402,F401


def build_many(count: int = MANY, first: int = FIRST) -> Flash:
    """`count` endless streams, one event callback each (a stream id is per event callback), one
    `stream_props` every 100 ms each: the first `first` start with one button, the rest with
    another, so the page goes 0 -> `first` -> `count` streams. Plus an ordinary `@callback`."""
    app = Flash(__name__, title="Flash W7: a callback among streams")
    app.layout = html.Div(
        [
            html.Button("ping", id=PING),
            html.Div(id=PONG),
            html.Button(f"start {first} streams", id=FIRST_GO),
            html.Button(f"start {count - first} more", id=REST_GO),
            html.Div([html.Span(id=stream_out(i), style={"marginRight": "4px"}) for i in range(count)]),
        ]
    )

    def add_stream(i: int) -> None:
        async def tick(n_clicks: Any) -> Any:
            if not n_clicks:
                return
            n = 0
            while True:
                n += 1
                yield stream_props(stream_out(i), {"children": f"{i}:{n}"})
                await asyncio.sleep(TICK_SECONDS)

        tick.__name__ = tick.__qualname__ = f"tick_{i}"  # its own stream id
        app.event_callback(Input(FIRST_GO if i < first else REST_GO, "n_clicks"))(tick)

    for i in range(count):
        add_stream(i)

    @app.callback(Output(PONG, "children"), Input(PING, "n_clicks"), prevent_initial_call=True)
    async def pong(n_clicks: Any) -> str:
        return f"pong {n_clicks}"

    return app


def many_server() -> Any:
    """Factory (`uvicorn --factory`, or `hypercorn '...:many_server()'`)."""
    return build_many().server
