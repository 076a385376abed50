"""One live channel, every window: open this page in two windows and watch both.

`visitors` is a channel with a producer: a simulated live-visitor count, computed once for all
watchers (however many windows are open) and only while at least one is open. `chat` is a plain
channel: what you send in one window appears in every window at once. With
`FLASH_SHARED_STORAGE=redis://...` and several workers the same code spans all of them.

Run: python examples/live_channel.py, then open http://127.0.0.1:8050 in two windows.
"""

import asyncio
import datetime as dt
import random

from flash import Channel, Flash, Input, Output, State, callback, dcc, event_callback, html, stream_props

try:
    from examples.theme import card, page
except ImportError:  # run as a script: python examples/live_channel.py
    from theme import card, page

app = Flash(__name__, title="Live channel")
visitors = Channel("visitors", latest=True)  # a slow window only ever needs the newest count
chat = Channel("chat")


@visitors.producer
async def count_visitors():
    count = 120
    while True:
        count = max(0, count + random.randint(-4, 5))
        yield {"count": count, "at": dt.datetime.now().strftime("%H:%M:%S")}
        await asyncio.sleep(0.5)


app.layout = page(
    "Live channel",
    "Open this page in a second window: both show the same feed.",
    [
        dcc.Location(id="url"),
        card(
            [
                html.H3("…", id="visitors"),
                html.Div(
                    [
                        dcc.Input(id="name", placeholder="your name", value="guest", style={"width": "8rem"}),
                        dcc.Input(id="message", placeholder="say something", debounce=True, style={"width": "20rem"}),
                        html.Button("Send", id="send"),
                    ],
                    style={"display": "flex", "gap": "0.5rem"},
                ),
                html.Div("connecting…", id="chat-status"),
                html.Ul(id="chat-log"),
            ]
        ),
    ],
    size="md",
)


@event_callback(Input("url", "pathname"), prevent_initial_call=False)
async def watch_visitors(_pathname):
    async for update in visitors.subscribe():
        yield stream_props("visitors", {"children": f"{update['count']} visitors online ({update['at']})"})


@event_callback(Input("url", "pathname"), prevent_initial_call=False)
async def watch_chat(_pathname):
    subscription = chat.subscribe()
    await subscription.ready()
    yield stream_props("chat-status", {"children": "live"})
    lines: list[str] = []
    async for line in subscription:
        lines = [line, *lines][:20]
        yield stream_props("chat-log", {"children": [html.Li(text) for text in lines]})


@callback(
    Output("message", "value"),
    Input("send", "n_clicks"),
    State("name", "value"),
    State("message", "value"),
    prevent_initial_call=True,
)
async def send(_n, name, message):
    if message:
        await chat.publish(f"{name or 'guest'}: {message}")
    return ""


server = app.server  # the ASGI app: `hypercorn examples.live_channel:server`

if __name__ == "__main__":
    app.run(debug=False)
