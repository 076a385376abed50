"""W12's app on Dash 4.5, written with Dash 4.5's own API (it never imports Flash).

The same page as `cluster_app.py`'s `frames` and `ping` for Flash: a button whose click starts
an endless stream of `{"f": <CLOCK_MONOTONIC ns>, "i": <n>}` every `FRAME_PERIOD_S` from a random
phase, and an ordinary callback `soak-ping` -> `soak-pong`. In Dash 4.5 a callback streams when
it is an `async def` generator: each `yield` has the shape of a return. Shared storage (Dash
4.5's stream transport: one multiplexed downlink per browser) is Dash's default in 4.5.0rc2,
`LocalSharedStorage`; `DASH_SHARED_STORAGE=redis://...` and `DASH_SECRET_KEY` make two workers
share it, as Dash documents. Runs only in benchmarks/.venv-dash45 (see dash45.py).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any, AsyncIterator

from .cluster_app import FRAME_PERIOD_S, FRAMES_INPUT, FRAMES_OUTPUT, PING


def build(**kwargs: Any) -> Any:
    """A `dash.Dash(backend="quart")` app; kwargs go to `Dash(...)`."""
    import dash
    from dash import Input, Output, html

    app = dash.Dash(__name__, backend="quart", **kwargs)
    app.layout = html.Div(
        [html.Button(id=FRAMES_INPUT), html.Div(id=FRAMES_OUTPUT), html.Button(id=PING[1]), html.Div(id=PING[0])]
    )

    @app.callback(Output(FRAMES_OUTPUT, "children"), Input(FRAMES_INPUT, "n_clicks"), prevent_initial_call=True)
    async def frames(_n: Any) -> AsyncIterator[Any]:
        await asyncio.sleep(random.random() * FRAME_PERIOD_S)
        i = 0
        while True:
            i += 1
            yield {"f": time.monotonic_ns(), "i": i}
            await asyncio.sleep(FRAME_PERIOD_S)

    @app.callback(Output(PING[0], "children"), Input(PING[1], "n_clicks"), prevent_initial_call=True)
    async def ping(n: Any) -> Any:
        return f"pong {n}"

    return app


def build_many() -> Any:
    """W7's page on Dash 4.5 (`browser_app.build_many` is Flash's): `MANY` streaming `@callback`s,
    one `yield` every 100 ms each, the first `FIRST` started by one button and the rest by
    another, and the ordinary `ping` -> `pong` callback."""
    import dash
    from dash import Input, Output, html

    from .w7_page import FIRST, FIRST_GO, MANY, PING, PONG, REST_GO, TICK_SECONDS, stream_out

    app = dash.Dash(__name__, backend="quart", title="Dash 4.5 W7: a callback among streams")
    app.layout = html.Div(
        [
            html.Button("ping", id=PING),
            html.Div(id=PONG),
            html.Button(f"start {FIRST} streams", id=FIRST_GO),
            html.Button(f"start {MANY - FIRST} more", id=REST_GO),
            html.Div([html.Span(id=stream_out(i), style={"marginRight": "4px"}) for i in range(MANY)]),
        ]
    )

    def add_stream(i: int) -> None:
        async def tick(_n_clicks: Any) -> AsyncIterator[Any]:
            n = 0
            while True:
                n += 1
                yield f"{i}:{n}"
                await asyncio.sleep(TICK_SECONDS)

        tick.__name__ = tick.__qualname__ = f"tick_{i}"
        app.callback(
            Output(stream_out(i), "children"), Input(FIRST_GO if i < FIRST else REST_GO, "n_clicks"), prevent_initial_call=True
        )(tick)

    for i in range(MANY):
        add_stream(i)

    @app.callback(Output(PONG, "children"), Input(PING, "n_clicks"), prevent_initial_call=True)
    async def pong(n_clicks: Any) -> str:
        return f"pong {n_clicks}"

    return app


def many_server() -> Any:
    """Factory (`uvicorn --factory benchmarks.dash45_app:many_server`), run in the Dash 4.5 venv."""
    return build_many().server
