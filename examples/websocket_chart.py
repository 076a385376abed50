"""A live chart over a websocket: the `WebSocket` component and a Quart websocket route.

The page's `WebSocket` opens `/ws/prices` on this app's server. When it is open a callback
sends the chosen symbol (`send`); the server answers with a tick every 200 ms: a
`stream_props(...)` that extends the chart directly (no callback), and a plain JSON message
that reaches a callback through the component's `message` prop. "Simulate a server restart"
asks the server to close the connection with code 1012: the component reconnects by itself
(backoff 0.5 s, doubling to 10 s) and the chart carries on where it was.

Run: python examples/websocket_chart.py
"""

import asyncio
import datetime as dt
import itertools
import random

from flash import Flash, Input, Output, State, callback, ctx, dcc, html, no_update, stream_props
from flash.components import Socket, WebSocket, websocket_route

try:
    from examples.theme import card, page
except ImportError:  # run as a script: python examples/websocket_chart.py
    from theme import card, page

app = Flash(__name__, title="WebSocket live chart")

SYMBOLS = {"ACME": 120.0, "GLOBEX": 48.5, "INITECH": 310.0}
WINDOW = 300  # points kept on the chart
CONNECTIONS = itertools.count(1)  # this worker's connections, numbered


def empty_chart(symbol: str) -> dict:
    return {
        "data": [{"x": [], "y": [], "type": "scatter", "mode": "lines", "name": symbol, "line": {"color": "#2563eb"}}],
        "layout": {"title": {"text": symbol}, "margin": {"t": 40, "l": 50, "r": 20, "b": 40}, "uirevision": symbol},
    }


@websocket_route(app, "/ws/prices")
async def prices(ws: Socket):
    """One connection: wait for the page's first {"symbol": ...}, then tick until it goes."""
    connection = next(CONNECTIONS)
    hello = await ws.receive()
    symbol = hello.get("symbol") if isinstance(hello, dict) else None
    symbol = symbol if symbol in SYMBOLS else "ACME"
    rng = random.Random()
    price = SYMBOLS[symbol]
    while True:
        for message in ws.drain():
            if not isinstance(message, dict):
                continue
            if message.get("action") == "restart":
                await ws.close(1012, "simulated restart")
                return
            if message.get("symbol") in SYMBOLS and message["symbol"] != symbol:
                symbol = message["symbol"]
                price = SYMBOLS[symbol]
                yield stream_props("chart", {"figure": empty_chart(symbol)})
        price = max(1.0, price * (1 + rng.gauss(0, 0.004)))
        SYMBOLS[symbol] = price  # a reconnect continues from here
        now = dt.datetime.now().isoformat(timespec="milliseconds")
        yield stream_props("chart", {"extendData": [{"x": [[now]], "y": [[round(price, 2)]]}, [0], WINDOW]})
        yield {"symbol": symbol, "price": round(price, 2), "connection": connection}
        await asyncio.sleep(0.2)


BADGE = {"open": "#16a34a", "connecting": "#d97706", "closed": "#dc2626"}

app.layout = page(
    "WebSocket live chart",
    "Prices arrive over a websocket of this app; the chart is extended by the server's messages.",
    [
        WebSocket(id="ws", path="/ws/prices"),
        card(
            [
                html.Div(
                    [
                        dcc.Dropdown(list(SYMBOLS), "ACME", id="symbol", clearable=False, style={"width": "12rem"}),
                        html.Span(
                            "connecting",
                            id="state",
                            style={
                                "padding": "0.2rem 0.6rem",
                                "borderRadius": "1rem",
                                "color": "white",
                                "background": BADGE["connecting"],
                            },
                        ),
                        html.Button("Simulate a server restart", id="restart"),
                    ],
                    style={"display": "flex", "gap": "1rem", "alignItems": "center"},
                ),
                html.H3("…", id="price"),
                html.Div("", id="connection", style={"color": "#6b7280"}),
                dcc.Graph(id="chart", figure=empty_chart("ACME")),
            ]
        ),
    ],
)


@callback(Output("state", "children"), Output("state", "style"), Input("ws", "state"), State("state", "style"))
def show_state(state, style):
    state = state or "connecting"
    return state, {**style, "background": BADGE.get(state, "#6b7280")}


@callback(
    Output("ws", "send"), Input("ws", "state"), Input("symbol", "value"), Input("restart", "n_clicks"), prevent_initial_call=True
)
def talk(state, symbol, _restart):
    """On every (re)connect and on a new symbol, say which symbol to stream; or ask for a restart."""
    if ctx.triggered_id == "restart":
        return {"action": "restart"}
    if state != "open":
        return no_update
    return {"symbol": symbol}


@callback(Output("price", "children"), Output("connection", "children"), Input("ws", "message"), prevent_initial_call=True)
def show_price(message):
    tick = message["data"]
    return f"{tick['symbol']} {tick['price']:,.2f}", f"connection #{tick['connection']}"


server = app.server  # the ASGI app: `hypercorn examples.websocket_chart:server`

if __name__ == "__main__":
    app.run(debug=True)
