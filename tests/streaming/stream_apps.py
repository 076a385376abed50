"""Test apps shared by several stream test modules (a helpers module, not a test module)."""

from __future__ import annotations

import asyncio
import json

from flash import Flash, Input, Output, html, stream_props
from tests.streaming.probe import Probe


def many_streams_app(count: int, **options) -> tuple[Flash, Probe]:
    """One button starting `count` endless streams (each index its own event callback, declared
    on this app so that several apps can be built in one process), plus an ordinary callback."""
    app = Flash(__name__, **{"stream_resume_window": 60, **options})
    app.layout = html.Div(
        [html.Button("all", id="all"), html.Button("ping", id="ping"), html.Div(id="pong")]
        + [html.Div(id=f"out-{i}") for i in range(count)]
    )
    probe = Probe(app)

    def make(i: int) -> None:
        async def tick(n_clicks):
            probe.count("started")
            try:
                n = 0
                while True:
                    n += 1
                    yield stream_props(f"out-{i}", {"children": f"{i}:{n}"})
                    await asyncio.sleep(0.1)
            finally:
                probe.count("closed")

        tick.__qualname__ = f"tick_{i}"  # a distinct stream per index
        app.event_callback(Input("all", "n_clicks"))(tick)

    for i in range(count):
        make(i)

    @app.callback(Output("pong", "children"), Input("ping", "n_clicks"), prevent_initial_call=True)
    async def pong(n_clicks):
        return f"pong {n_clicks}"

    return app, probe


def _direct(app):
    return app


def _hooks(app):
    @app.server.before_request
    async def noop():
        return None

    @app.server.after_request
    async def tag(response):
        response.headers["X-Hooked"] = "yes"
        return response

    return app


PATHS = {
    "direct": (_direct, {}),
    "hooks": (_hooks, {}),
    "compress": (_direct, {"compress": True}),
    "pages": (_direct, {"use_pages": True, "pages_folder": ""}),
}


def request_bytes(port: int, path: str, body: dict) -> bytes:
    raw = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(raw)}\r\nAccept: text/event-stream\r\n\r\n"
    )
    return head.encode() + raw


def start_body(token: str) -> dict:
    return {
        "inputs": [{"id": "go", "property": "n_clicks", "value": 1}],
        "state": [],
        "changedPropIds": ["go.n_clicks"],
        "downlink": token,
    }
