"""Why async callbacks: three slow calls one after another, or all at once with asyncio.gather.

"Run sync" does three blocking waits in a row (0.7 + 0.7 + 0.8 s, about 2.2 s); "Run async"
awaits the same three waits together, so it takes about as long as the longest (about 0.8 s).
Flash runs the sync callback in a thread, so the page (and other users) never wait on it.
"""

import asyncio
import time

import dash_mantine_components as dmc

from flash import Flash, Input, Output, callback, html

try:
    from examples.theme import card, page
except ImportError:  # run as a script: python examples/async_gather.py
    from theme import card, page

WAITS = (0.7, 0.7, 0.8)  # seconds, e.g. three calls to slow web APIs

app = Flash(__name__, title="Sync vs async")

app.layout = page(
    "Sync vs async",
    f"Each button makes three calls that take {', '.join(map(str, WAITS))} seconds.",
    dmc.SimpleGrid(
        [
            card(
                [
                    html.H4("One after another (sync, in a thread)"),
                    html.Button("Run sync", id="sync-button"),
                    html.Div("not run yet", id="sync-result"),
                ]
            ),
            card(
                [
                    html.H4("All at once (asyncio.gather)"),
                    html.Button("Run async", id="async-button"),
                    html.Div("not run yet", id="async-result"),
                ]
            ),
        ],
        cols=2,
    ),
    size="md",
)


def slow_call(seconds):
    time.sleep(seconds)  # a blocking client, e.g. `requests.get(...)`
    return seconds


async def slow_call_async(seconds):
    await asyncio.sleep(seconds)  # an async client, e.g. `await httpx.AsyncClient().get(...)`
    return seconds


@callback(Output("sync-result", "children"), Input("sync-button", "n_clicks"), prevent_initial_call=True)
def run_sync(n_clicks):
    start = time.perf_counter()
    results = [slow_call(seconds) for seconds in WAITS]
    elapsed = time.perf_counter() - start
    return f"sync: {len(results)} calls took {elapsed:.2f} s"


@callback(Output("async-result", "children"), Input("async-button", "n_clicks"), prevent_initial_call=True)
async def run_async(n_clicks):
    start = time.perf_counter()
    results = await asyncio.gather(*(slow_call_async(seconds) for seconds in WAITS))
    elapsed = time.perf_counter() - start
    return f"async: {len(results)} calls took {elapsed:.2f} s"


server = app.server  # the ASGI app: `hypercorn examples.async_gather:server`

if __name__ == "__main__":
    app.run(debug=True)
