"""What a user sees of Flash's concurrency: a blocking sync callback never stalls async ones.

The app runs in a forked child; server-side state is observed through the page or through small
Quart routes added on `app.server` for the test.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request

import pytest

from flash import ALL, MATCH, Flash, Input, Output, dcc, html
from flash.testing import FlashComposite

# Loopback requests never go through an HTTP(S)_PROXY from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str) -> str:
    with OPENER.open(url, timeout=5) as response:
        return response.read().decode()


@pytest.mark.browser
def test_sync_callback_sleeping_does_not_delay_an_async_callback(dash_duo_mp: FlashComposite) -> None:
    """The sync callback keeps sleeping (1 s at a time, in its thread) until the test opens a
    gate; meanwhile the async callback on the same worker answers and the user sees its result
    next to the still-pending sync placeholder. No clock is read: the gate makes it an order."""
    gate = threading.Event()
    app = Flash(__name__)
    app.layout = html.Div(
        [
            html.Button("sync", id="sync-btn"),
            html.Button("async", id="async-btn"),
            html.Div("sync pending", id="sync-out"),
            html.Div("async pending", id="async-out"),
        ]
    )

    @app.server.route("/test/open-gate")
    async def open_gate() -> str:
        gate.set()
        return "open"

    @app.callback(Output("sync-out", "children"), Input("sync-btn", "n_clicks"), prevent_initial_call=True)
    def slow_sync(n_clicks: int) -> str:
        deadline = time.monotonic() + 30  # never hang the worker if the test dies
        while not gate.is_set() and time.monotonic() < deadline:
            time.sleep(1)  # a blocking call: it must not hold the event loop
        return "sync done"

    @app.callback(Output("async-out", "children"), Input("async-btn", "n_clicks"), prevent_initial_call=True)
    async def fast_async(n_clicks: int) -> str:
        await asyncio.sleep(0.01)
        return f"async done {n_clicks}"

    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#sync-btn").click()
    dash_duo_mp.find_element("#async-btn").click()
    dash_duo_mp.wait_for_text_to_equal("#async-out", "async done 1", timeout=5)
    assert dash_duo_mp.find_element("#sync-out").text == "sync pending"
    # Clicking again while the sync callback still sleeps: the async one answers again.
    dash_duo_mp.find_element("#async-btn").click()
    dash_duo_mp.wait_for_text_to_equal("#async-out", "async done 2", timeout=5)
    assert dash_duo_mp.find_element("#sync-out").text == "sync pending"

    assert _get(dash_duo_mp.url_for("/test/open-gate")) == "open"
    dash_duo_mp.wait_for_text_to_equal("#sync-out", "sync done", timeout=10)
    assert dash_duo_mp.find_element("#async-out").text == "async done 2"
    assert dash_duo_mp.get_logs() == []


@pytest.mark.browser
def test_fifty_pattern_matching_async_callbacks_all_complete(dash_duo_mp: FlashComposite) -> None:
    """50 MATCH outputs, each filled by an async callback awaiting 100 ms; all fill in, and the
    server saw several of them awaiting at the same time (they ran concurrently)."""
    count = 50
    state = {"running": 0, "peak": 0}
    app = Flash(__name__)
    app.layout = html.Div(
        [html.Button("go", id="go")]
        + [dcc.Store(id={"type": "src", "index": i}) for i in range(count)]
        + [html.Div("waiting", id={"type": "out", "index": i}, className="out") for i in range(count)]
        + [html.Div(id="summary")]
    )

    @app.server.route("/test/peak")
    async def peak() -> dict:
        return dict(state)

    @app.callback(
        Output({"type": "src", "index": ALL}, "data"),
        Input("go", "n_clicks"),
        prevent_initial_call=True,
    )
    async def fan_out(n_clicks: int) -> list[int]:
        return [i * 10 for i in range(count)]

    @app.callback(
        Output({"type": "out", "index": MATCH}, "children"),
        Input({"type": "src", "index": MATCH}, "data"),
        prevent_initial_call=True,
    )
    async def slow_echo(value: int) -> str:
        state["running"] += 1
        state["peak"] = max(state["peak"], state["running"])
        try:
            await asyncio.sleep(0.1)
        finally:
            state["running"] -= 1
        return f"got {value}"

    @app.callback(
        Output("summary", "children"),
        Input({"type": "out", "index": ALL}, "children"),
        prevent_initial_call=True,
    )
    def summarize(children: list[str]) -> str:
        return f"{sum(c.startswith('got') for c in children)} of {len(children)} done"

    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#go").click()
    dash_duo_mp.wait_for_text_to_equal("#summary", f"{count} of {count} done", timeout=20)
    texts = [el.text for el in dash_duo_mp.find_elements(".out")]
    assert texts == [f"got {i * 10}" for i in range(count)]
    stats = json.loads(_get(dash_duo_mp.url_for("/test/peak")))
    assert stats["running"] == 0
    assert stats["peak"] > 1, stats
    assert dash_duo_mp.get_logs() == []
