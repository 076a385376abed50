"""flash.components in headless Chromium: LazyLoad and WebSocket, and the two examples using them.

The apps run in a forked server process (`flash_duo_mp`), so what the server did is read over
HTTP from a counter route of the test app, never from this process's memory.
"""

from __future__ import annotations

import asyncio
import collections
import json
from typing import Any, Callable

import pytest
from quart import jsonify

from flash import Flash, Input, Output, State, callback, dcc, html, stream_props
from flash.components import LazyLoad, LazyLoadError, Socket, WebSocket, websocket_route
from flash.testing import FlashComposite
from tests.integration.conftest import http_get
from tests.integration.test_examples import load_example  # noqa: F401  (a fixture)

LAZY_REQUESTS = (
    "return performance.getEntriesByType('resource').filter(e => e.name.includes('/_flash/lazy/'))"
    ".map(e => e.name.split('/_flash/lazy/')[1]);"
)


def counts(duo: FlashComposite, path: str = "/test/counts") -> dict[str, int]:
    status, body = http_get(duo.url_for(path))
    assert status == 200, body
    return json.loads(body)


def status_of(duo: FlashComposite, selector: str) -> str:
    return duo.find_element(selector).get_attribute("data-status")


# --- LazyLoad -------------------------------------------------------------------------------


def make_lazy_app() -> Flash:
    app = Flash(__name__, suppress_callback_exceptions=True)
    calls: collections.Counter[str] = collections.Counter()
    started = {"a": asyncio.Event(), "b": asyncio.Event()}  # bound to the server's loop on first use

    async def top(label: str):
        calls["top"] += 1
        return html.Div(
            [
                html.P(f"top: {label}", id="top-text"),
                dcc.Input(id="top-input", value=label),
                html.Div(id="top-echo"),
                html.Div(id="top-initial"),
            ]
        )

    async def bottom():
        calls["bottom"] += 1
        return html.P("bottom content", id="bottom-text")

    async def hidden():
        calls["hidden"] += 1
        return html.P("hidden content", id="hidden-text")

    async def flaky():
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise LazyLoadError("The first try fails.")
        return html.P("flaky content", id="flaky-text")

    async def crashes():
        calls["crashes"] += 1
        raise RuntimeError("secret internals")

    async def pair(side: str):
        calls[f"pair-{side}"] += 1
        started[side].set()
        try:  # both finish only when each saw the other start: the loads overlap
            await asyncio.wait_for(started["b" if side == "a" else "a"].wait(), timeout=10)
        except asyncio.TimeoutError:
            raise LazyLoadError(f"{side} loaded alone") from None
        return html.P(f"pair {side} done", id=f"pair-{side}-text")

    @app.server.route("/test/counts")
    async def show_counts():
        return jsonify(dict(calls))

    spacer = html.Div("scroll down", style={"height": "3000px"})
    app.layout = html.Div(
        [
            LazyLoad(id="top", load=top, args={"label": "one"}),
            html.Div(id="top-status"),
            html.Button("relabel", id="relabel"),
            html.Button("show hidden", id="show"),
            html.Div(LazyLoad(id="hidden", load=hidden), id="hidden-box", style={"display": "none"}),
            LazyLoad(id="pair-a", load=pair, args={"side": "a"}),
            LazyLoad(id="pair-b", load=pair, args={"side": "b"}),
            spacer,
            LazyLoad(id="flaky", load=flaky, placeholder=html.P("flaky placeholder", id="flaky-placeholder")),
            LazyLoad(id="crashes", load=crashes),
            spacer,
            LazyLoad(id="bottom", load=bottom, placeholder=html.P("bottom placeholder", id="bottom-placeholder")),
        ]
    )

    @callback(Output("top-echo", "children"), Input("top-input", "value"), prevent_initial_call=True)
    async def echo(value):
        return f"echo: {value}"

    @callback(Output("top-initial", "children"), Input("top-input", "value"), State("top-text", "children"))
    def initial(value, text):  # no prevent_initial_call: it runs when the content arrives
        return f"initial call: {value} / {text}"

    @callback(Output("top-status", "children"), Input("top", "status"))
    def show_status(status):
        return f"status: {status}"

    @callback(Output("top", "args"), Input("relabel", "n_clicks"), prevent_initial_call=True)
    def relabel(_):
        return {"label": "two"}

    @callback(Output("hidden-box", "style"), Input("show", "n_clicks"), prevent_initial_call=True)
    def show(_):
        return {"display": "block"}

    return app


def scroll_to(duo: FlashComposite, dom_id: str) -> None:
    duo.driver.execute_script(f"document.getElementById({dom_id!r}).scrollIntoView()")


def test_lazyload_loads_only_when_scrolled_into_view_or_shown(flash_duo_mp: FlashComposite) -> None:
    duo = flash_duo_mp
    duo.start_server(make_lazy_app())
    duo.wait_for_text_to_equal("#top-text", "top: one")
    duo.wait_for_text_to_equal("#pair-a-text", "pair a done")
    duo.wait_for_text_to_equal("#top-status", "status: loaded")
    # The page is live and its visible LazyLoads have loaded; the far and the hidden ones not.
    assert counts(duo) == {"top": 1, "pair-a": 1, "pair-b": 1}
    assert status_of(duo, "#bottom") == "idle" and duo.find_element("#bottom-placeholder").text == "bottom placeholder"
    assert status_of(duo, "#hidden") == "idle"

    scroll_to(duo, "bottom")
    duo.wait_for_text_to_equal("#bottom-text", "bottom content")
    assert counts(duo)["bottom"] == 1
    assert not duo.find_elements("#bottom-placeholder")

    scroll_to(duo, "top")
    duo.find_element("#show").click()
    duo.wait_for_text_to_equal("#hidden-text", "hidden content")

    # Loaded components take part in callbacks like any other, initial calls included.
    duo.wait_for_text_to_equal("#top-initial", "initial call: one / top: one")
    assert duo.find_element("#top-echo").text == "", "prevent_initial_call holds"
    duo.find_element("#top-input").send_keys("hi")
    duo.wait_for_text_to_equal("#top-echo", "echo: onehi")
    # New args from a callback load again; nothing loads twice for the same args.
    duo.find_element("#relabel").click()
    duo.wait_for_text_to_equal("#top-text", "top: two")
    duo.wait_for_text_to_equal("#top-initial", "initial call: two / top: two")
    assert counts(duo) == {"top": 2, "pair-a": 1, "pair-b": 1, "bottom": 1, "hidden": 1}
    assert duo.get_logs() == []


def test_lazyload_shows_errors_in_place_and_retries(flash_duo_mp: FlashComposite) -> None:
    duo = flash_duo_mp
    duo.start_server(make_lazy_app())
    duo.wait_for_text_to_equal("#top-text", "top: one")
    scroll_to(duo, "flaky")
    duo.wait_for_text_to_equal("#flaky .flash-lazy-error-message", "The first try fails.")
    duo.wait_for_text_to_equal("#crashes .flash-lazy-error-message", "The lazy loader failed.")
    assert "secret" not in duo.find_element("#crashes").text
    assert not duo.find_elements("#flaky-placeholder"), "the error replaces the placeholder"
    assert status_of(duo, "#flaky") == "error"

    duo.find_element("#flaky .flash-lazy-retry").click()
    duo.wait_for_text_to_equal("#flaky-text", "flaky content")
    assert not duo.find_elements("#flaky .flash-lazy-error")
    assert counts(duo)["flaky"] == 2 and counts(duo)["crashes"] == 1
    # The crash is a 500 (logged by the browser); the LazyLoadError answer is not an HTTP error.
    logs = [entry["message"] for entry in duo.get_logs()]
    assert len(logs) == 1 and "500" in logs[0] and "/_flash/lazy/" in logs[0], logs


def test_two_lazyloads_load_concurrently(flash_duo_mp: FlashComposite) -> None:
    duo = flash_duo_mp
    duo.start_server(make_lazy_app())
    # Each loader waits until the other one has started: with serial loads one would say "alone".
    duo.wait_for_text_to_equal("#pair-a-text", "pair a done")
    duo.wait_for_text_to_equal("#pair-b-text", "pair b done")
    assert not duo.find_elements(".flash-lazy-error")
    assert duo.get_logs() == []


# --- WebSocket ------------------------------------------------------------------------------


def make_socket_app() -> Flash:
    app = Flash(__name__)
    stats = {"open": 0, "total": 0}

    @websocket_route(app, "/ws/echo")
    async def echo(ws: Socket):
        stats["open"] += 1
        stats["total"] += 1
        try:
            async for message in ws:
                command = message.get("cmd") if isinstance(message, dict) else None
                if command == "drop":
                    await ws.close(1012, "dropped by the test")
                elif command == "burst":
                    for i in range(message["n"]):  # back to back, no render in between
                        await ws.send(stream_props("chart", {"extendData": [{"y": [[i]]}, [0], 1000]}))
                else:
                    await ws.send({"echo": message, "connection": stats["total"]})
        finally:
            stats["open"] -= 1

    @app.server.route("/test/ws")
    async def show_stats():
        return jsonify(stats)

    app.layout = html.Div(
        [
            html.Div(WebSocket(id="ws", path="/ws/echo"), id="holder"),
            html.Div(id="state"),
            html.Div(id="received"),
            dcc.Input(id="text", value="hi"),
            html.Button("send", id="send"),
            html.Button("unmount", id="unmount"),
            dcc.Graph(id="chart", figure={"data": [{"y": [], "type": "scatter"}]}),
        ]
    )

    @callback(Output("state", "children"), Input("ws", "state"))
    def show_state(state):
        return f"state: {state}"

    @callback(Output("received", "children"), Input("ws", "message"), prevent_initial_call=True)
    def show_message(message):
        return json.dumps(message["data"], sort_keys=True)

    @callback(Output("ws", "send"), Input("send", "n_clicks"), State("text", "value"), prevent_initial_call=True)
    def send(_, text):
        return json.loads(text) if text.startswith("{") else {"text": text}

    @callback(Output("holder", "children"), Input("unmount", "n_clicks"), prevent_initial_call=True)
    def unmount(_):
        return "gone"

    return app


def type_and_send(duo: FlashComposite, text: str) -> None:
    duo.clear_input("#text")
    duo.find_element("#text").send_keys(text)
    duo.find_element("#send").click()


def test_websocket_sends_receives_and_shows_its_state(flash_duo_mp: FlashComposite) -> None:
    duo = flash_duo_mp
    duo.start_server(make_socket_app())
    duo.wait_for_text_to_equal("#state", "state: open")
    duo.find_element("#send").click()
    duo.wait_for_text_to_equal("#received", '{"connection": 1, "echo": {"text": "hi"}}')
    type_and_send(duo, "again")
    duo.wait_for_text_to_equal("#received", '{"connection": 1, "echo": {"text": "again"}}')
    assert counts(duo, "/test/ws") == {"open": 1, "total": 1}
    assert duo.get_logs() == []


@pytest.mark.parametrize("server", ["hypercorn", "uvicorn"])
def test_websocket_reconnects_after_the_server_drops_it(flash_duo_mp: FlashComposite, server: str) -> None:
    duo = flash_duo_mp
    duo.start_server(make_socket_app(), server=server)
    duo.wait_for_text_to_equal("#state", "state: open")
    type_and_send(duo, '{"cmd": "drop"}')
    duo.wait_for(lambda: counts(duo, "/test/ws")["total"] == 2, timeout=10, msg="a second connection")
    duo.wait_for_text_to_equal("#state", "state: open")
    type_and_send(duo, "after")
    duo.wait_for_text_to_equal("#received", '{"connection": 2, "echo": {"text": "after"}}')
    assert counts(duo, "/test/ws") == {"open": 1, "total": 2}


def test_websocket_applies_every_delta_of_a_burst(flash_duo_mp: FlashComposite) -> None:
    duo = flash_duo_mp
    duo.start_server(make_socket_app())
    duo.wait_for_text_to_equal("#state", "state: open")
    type_and_send(duo, '{"cmd": "burst", "n": 60}')
    points = "return document.querySelector('#chart .js-plotly-plot').data[0].y;"
    duo.wait_for(lambda: len(duo.driver.execute_script(points)) == 60, timeout=10, msg="all 60 points")
    assert duo.driver.execute_script(points) == list(range(60)), "every extendData, in order"


def test_websocket_closes_when_unmounted(flash_duo_mp: FlashComposite) -> None:
    duo = flash_duo_mp
    duo.start_server(make_socket_app())
    duo.wait_for_text_to_equal("#state", "state: open")
    duo.find_element("#unmount").click()
    duo.wait_for_text_to_equal("#holder", "gone")
    duo.wait_for(lambda: counts(duo, "/test/ws")["open"] == 0, timeout=10, msg="the server saw the close")
    assert counts(duo, "/test/ws") == {"open": 0, "total": 1}
    assert duo.get_logs() == []


# --- the examples ---------------------------------------------------------------------------


def test_websocket_chart_example(flash_duo_mp: FlashComposite, load_example: Callable[[str], Flash]) -> None:
    duo = flash_duo_mp
    duo.start_server(load_example("websocket_chart"))
    duo.wait_for_text_to_equal("#state", "open")
    duo.wait_for(lambda: duo.find_element("#price").text.startswith("ACME "), timeout=10, msg="ACME ticks")
    points = "return document.querySelector('#chart .js-plotly-plot').data[0].x.length;"
    duo.wait_for(lambda: duo.driver.execute_script(points) >= 3, timeout=10, msg="the chart is extended")
    duo.select_dcc_dropdown("#symbol", "GLOBEX")  # sent to the server, which switches the stream
    duo.wait_for(lambda: duo.find_element("#price").text.startswith("GLOBEX "), timeout=10, msg="GLOBEX ticks")
    duo.wait_for(lambda: duo.find_element("#chart .gtitle").text == "GLOBEX", timeout=10, msg="chart reset")
    assert duo.find_element("#connection").text == "connection #1"
    duo.find_element("#restart").click()  # the server closes with 1012: the page reconnects
    duo.wait_for_text_to_equal("#connection", "connection #2", timeout=15)
    duo.wait_for_text_to_equal("#state", "open")
    assert duo.find_element("#price").text.startswith("GLOBEX "), "the new connection got the symbol"
    assert duo.get_logs() == []


def test_lazy_dashboard_example(flash_duo_mp: FlashComposite, load_example: Callable[[str], Flash]) -> None:
    duo = flash_duo_mp
    duo.start_server(load_example("lazy_dashboard"))
    duo.wait_for_text_to_equal("#panel-north .panel-title", "North region")
    statuses: Any = duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('.flash-lazy')).map(e => [e.id, e.dataset.status]);"
    )
    loaded = [dom_id for dom_id, status in statuses if status in ("loading", "loaded")]
    assert "panel-archive" not in loaded and len(loaded) < len(statuses), statuses
    requested = duo.driver.execute_script(LAZY_REQUESTS)
    assert "archive_panel" not in requested and len(requested) == len(loaded), (requested, statuses)

    scroll_to(duo, "panel-archive")
    duo.wait_for_text_to_equal("#panel-archive .flash-lazy-error-message", "The archive database is offline.")
    duo.wait_for_text_to_equal("#panel-central .panel-title", "Central region")
    assert duo.driver.execute_script(LAZY_REQUESTS).count("archive_panel") == 1

    scroll_to(duo, "panel-north")
    duo.find_element("#panel-north input[value='orders']").click()  # a callback of loaded content
    duo.wait_for(
        lambda: duo.find_element("#panel-north .gtitle").text == "North: Orders by month", timeout=10, msg="the metric callback"
    )
    assert duo.get_logs() == []


@pytest.mark.parametrize("name", ["websocket_chart", "lazy_dashboard"])
def test_the_examples_are_in_the_gallery(name: str) -> None:
    from examples.__main__ import EXAMPLES

    assert name in [module for module, *_ in EXAMPLES]
