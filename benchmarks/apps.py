"""The one app every contender serves, built from whichever app class is passed in.

Flash, Dash-on-Quart and Dash-on-Flask all run this same code, so a difference in the numbers
is a difference in the framework, not in the app. Features a class lacks (event callbacks on
plain Dash, WebSocket callbacks on Flask) are simply not registered for it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from dash import Input, Output, dcc, html, set_props

# Callback targets the load generators post to (output id -> input id).
TRIVIAL_ASYNC = ("out", "btn")
TRIVIAL_SYNC = ("out-sync", "btn-sync")
SLOW_ASYNC = ("slow", "slow-btn")
SLOW_SYNC = ("slow-sync", "slow-sync-btn")
WS_STREAM = ("ws-out", "ws-go")
TICK_INPUT = "tick"  # event callback: n_clicks = number of messages to stream
IDLE_INPUT = "idle"  # event callback: one message, then idle until closed
SLOW_SECONDS = 0.1


def _layout() -> Any:
    """A modest page: a form, a 20-row table, a graph and the benchmark's targets."""
    rows = [
        html.Tr([html.Td(f"row {i}"), html.Td(i * i), html.Td(dcc.Checklist(options=["x"], id=f"chk-{i}"))]) for i in range(20)
    ]
    ids = [TRIVIAL_ASYNC, TRIVIAL_SYNC, SLOW_ASYNC, SLOW_SYNC, WS_STREAM]
    targets = [html.Div([html.Button("go", id=i), html.Div(id=o)]) for o, i in ids]
    return html.Div(
        [
            html.H1("Flash benchmark app"),
            dcc.Input(id="name", value="world"),
            dcc.Dropdown(["a", "b", "c"], "a", id="choice"),
            html.Table(rows),
            dcc.Graph(id="graph", figure={"data": [{"x": [1, 2, 3], "y": [3, 1, 2]}]}),
            *targets,
            html.Button("tick", id=TICK_INPUT),
            html.Div(id="tick-out"),
            html.Button("idle", id=IDLE_INPUT),
            html.Div(id="idle-out"),
        ]
    )


def build_app(cls: type, **kwargs: Any) -> Any:
    """Build the benchmark app with `cls` (Flash, dash.Dash, ...); kwargs go to its constructor."""
    app = cls(__name__, **kwargs)
    app.layout = _layout()

    @app.callback(Output(TRIVIAL_ASYNC[0], "children"), Input(TRIVIAL_ASYNC[1], "n_clicks"))
    async def trivial_async(n: Any) -> str:
        return f"clicked {n}"

    @app.callback(Output(TRIVIAL_SYNC[0], "children"), Input(TRIVIAL_SYNC[1], "n_clicks"))
    def trivial_sync(n: Any) -> str:
        return f"clicked {n}"

    @app.callback(Output(SLOW_ASYNC[0], "children"), Input(SLOW_ASYNC[1], "n_clicks"))
    async def slow_async(n: Any) -> str:
        await asyncio.sleep(SLOW_SECONDS)
        return f"slept {n}"

    @app.callback(Output(SLOW_SYNC[0], "children"), Input(SLOW_SYNC[1], "n_clicks"))
    def slow_sync(n: Any) -> str:
        time.sleep(SLOW_SECONDS)
        return f"slept {n}"

    if getattr(app.backend, "websocket_capability", False):
        _add_websocket_stream(app)
    if hasattr(app, "event_callback"):
        _add_event_streams(app)
    return app


def _add_websocket_stream(app: Any) -> None:
    """Dash 4.4's nearest thing to a stream: a WebSocket callback pushing set_props."""

    @app.callback(Output(WS_STREAM[0], "children"), Input(WS_STREAM[1], "n_clicks"), websocket=True)
    async def ws_stream(n: Any) -> str:
        for i in range(int(n or 0)):
            set_props("tick-out", {"children": i})
            await asyncio.sleep(0)  # a real producer awaits between updates
        return "done"


def _add_event_streams(app: Any) -> None:
    from flash import stream_props

    @app.event_callback(Input(TICK_INPUT, "n_clicks"))
    async def ticker(n: Any) -> Any:
        for i in range(int(n or 0)):
            yield stream_props("tick-out", {"children": i})
            await asyncio.sleep(0)  # same producer shape as the WebSocket stream

    @app.event_callback(Input(IDLE_INPUT, "n_clicks"))
    async def idler(n: Any) -> Any:
        yield stream_props("idle-out", {"children": n})
        await asyncio.Event().wait()  # idle until the stream is closed

    app.bench_stream_ids = {"tick": ticker.stream_id, "idle": idler.stream_id}


def stream_ids() -> dict[str, str]:
    """The Flash stream ids of `ticker` and `idler` (deterministic: module, name, inputs)."""
    from flash import Flash

    return dict(build_app(Flash).bench_stream_ids)


def callback_body(target: tuple[str, str], value: Any = 1) -> dict[str, Any]:
    """The body dash-renderer posts to `_dash-update-component` for one of the targets."""
    output, trigger = target
    return {
        "output": f"{output}.children",
        "outputs": {"id": output, "property": "children"},
        "inputs": [{"id": trigger, "property": "n_clicks", "value": value}],
        "state": [],
        "changedPropIds": [f"{trigger}.n_clicks"],
    }


def stream_body(trigger: str, value: Any, downlink: str | None) -> dict[str, Any]:
    """The body the page's downlink hub (flash-hub.js) posts to `_flash/stream/<id>` to start a
    run on its downlink (`downlink`: the token the downlink's `hello` event named)."""
    return {
        "inputs": [{"id": trigger, "property": "n_clicks", "value": value}],
        "state": [],
        "changedPropIds": [f"{trigger}.n_clicks"],
        "downlink": downlink,
    }
