"""Endless stock ticker: a stream extends a live chart until you leave its page.

The app has two pages chosen by `dcc.Location` ("/" is the ticker, "/about" is not). Arriving on
"/" (or picking another symbol) starts the stream; `cancel=[(Input("url", "pathname"), "/")]`
closes it as soon as the pathname is anything else, and the server generator stops with it.
Each tick sends `extendData` (the chart keeps its last 300 points) and the price text.

Run: python examples/stock_ticker.py
"""

import asyncio
import datetime as dt
import random

from flash import Flash, Input, Output, dcc, event_callback, html, stream_props

try:
    from examples.theme import page
except ImportError:  # run as a script: python examples/stock_ticker.py
    from theme import page

app = Flash(__name__, title="Stock ticker")

SYMBOLS = {"ACME": 120.0, "GLOBEX": 48.5, "INITECH": 310.0}
WINDOW = 300  # points kept on the chart

app.layout = page(
    "Endless stock ticker",
    "An endless stream extends the chart until you leave the page; come back and it starts again.",
    [
        dcc.Location(id="url"),
        html.Nav(
            [
                dcc.Link("Ticker", href="/", id="to-ticker"),
                " | ",
                dcc.Link("About", href="/about", id="to-about"),
                html.Span("paused", id="live", className="live-badge"),
            ],
            className="ticker-nav",
        ),
        html.Div(
            [
                dcc.Dropdown(list(SYMBOLS), "ACME", id="symbol", clearable=False, style={"width": "12rem"}),
                html.H3(id="price"),
                dcc.Graph(id="chart", figure={"data": [{"x": [], "y": [], "type": "scatter"}]}),
            ],
            id="ticker-page",
            className="panel",
        ),
        html.Div(
            [html.H3("About"), html.P("The ticker stream stops while you are on this page.")],
            id="about-page",
            hidden=True,
            className="panel",
        ),
    ],
)

app.clientside_callback(
    "function(path) { var home = path === '/'; return [!home, home]; }",
    Output("ticker-page", "hidden"),
    Output("about-page", "hidden"),
    Input("url", "pathname"),
)


def empty_chart(symbol: str) -> dict:
    return {
        "data": [{"x": [], "y": [], "type": "scatter", "mode": "lines", "name": symbol}],
        "layout": {"title": {"text": symbol}, "margin": {"t": 40, "l": 50, "r": 20, "b": 40}},
    }


@event_callback(
    Input("url", "pathname"),
    Input("symbol", "value"),
    cancel=[(Input("url", "pathname"), "/")],
    reset_props=[("live", {"children": "paused"})],
    prevent_initial_call=False,  # start as soon as the ticker page loads
)
async def ticker(pathname, symbol):
    if pathname != "/":
        return  # on another page: nothing to stream (the cancel closes any running ticker)
    rng = random.Random()
    price = SYMBOLS.get(symbol, 100.0)
    # A fresh figure first: a new run (page revisit, other symbol) starts a clean chart.
    yield stream_props([("chart", {"figure": empty_chart(symbol)}), ("live", {"children": f"live: {symbol}"})])
    while True:
        await asyncio.sleep(0.2)
        price = max(1.0, price * (1 + rng.gauss(0, 0.004)))
        now = dt.datetime.now().isoformat(timespec="milliseconds")
        yield stream_props(
            [
                ("chart", {"extendData": [{"x": [[now]], "y": [[round(price, 2)]]}, [0], WINDOW]}),
                ("price", {"children": f"{symbol} {price:,.2f}"}),
            ]
        )


server = app.server  # the ASGI app: `hypercorn examples.stock_ticker:server`

if __name__ == "__main__":
    app.run(debug=True)
