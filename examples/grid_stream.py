"""The seed's AG Grid stream: rows fill the grid chunk by chunk, with notifications popping up.

Start runs an event callback that "queries" trades in chunks (a stand-in async generator: swap in
your database cursor or paginated API). The first chunk sets the grid's `rowData`; each later
one is a `rowTransaction` that adds rows without re-rendering the ones already there. On the way
it yields notifications: one when the stream starts (a loading one, updated when it finishes),
one every `NOTIFY_EVERY` rows and one when it is done. Cancel closes the stream (the generator's
`finally` runs on the server); `reset_props` puts the buttons back and says it was cancelled.

Run: python examples/grid_stream.py
"""

import asyncio
import random

import dash_ag_grid as dag
import dash_mantine_components as dmc

from flash import Flash, Input, State, event_callback, stream_props
from flash.notifications import notification, notify, update_notification

try:
    from examples.theme import card, page
except ImportError:  # run as a script: python examples/grid_stream.py
    from theme import card, page

app = Flash(__name__, title="AG Grid stream")

NOTIFY_EVERY = 1000  # rows between progress notifications
JOB = "grid-job"  # the id of the notification that follows a run: Started, then Done or Stopped
DESKS = ["Rates", "FX", "Equities", "Credit", "Commodities"]
TICKERS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "ORCL", "SAP", "ASML"]
COLUMNS = [
    {"field": "id", "headerName": "#", "maxWidth": 90},
    {"field": "desk"},
    {"field": "ticker", "maxWidth": 120},
    {
        "field": "side",
        "maxWidth": 100,
        "cellStyle": {"function": "params.value === 'BUY' ? {color: '#2b8a3e'} : {color: '#c92a2a'}"},
    },
    {"field": "price", "type": "rightAligned", "valueFormatter": {"function": "d3.format(',.2f')(params.value)"}},
    {"field": "quantity", "type": "rightAligned", "valueFormatter": {"function": "d3.format(',')(params.value)"}},
]

IDLE = [("start", {"disabled": False, "loading": False}), ("cancel", {"disabled": True})]

app.layout = page(
    "AG Grid stream",
    "Rows stream into dash-ag-grid chunk by chunk; notifications report progress; Cancel stops the query.",
    [
        card(
            dmc.Group(
                [
                    dmc.Button("Start", id="start", n_clicks=0),
                    dmc.Button("Cancel", id="cancel", n_clicks=0, color="red", variant="light", disabled=True),
                    dmc.NumberInput(id="rows", label="Rows", value=5000, min=100, step=500, w=140, thousandSeparator=","),
                    dmc.NumberInput(id="chunk", label="Chunk size", value=250, min=10, step=50, w=140),
                    dmc.Stack(
                        [
                            dmc.Text("Press Start to run the query.", id="status", size="sm", fw=500),
                            dmc.Progress(id="progress", value=0, size="lg", w=260, radius="xl"),
                        ],
                        gap=6,
                    ),
                ],
                align="flex-end",
                gap="md",
            )
        ),
        card(
            dag.AgGrid(
                id="grid",
                columnDefs=COLUMNS,
                rowData=[],
                getRowId="params.data.id",
                defaultColDef={"sortable": True, "filter": True, "flex": 1},
                dashGridOptions={"animateRows": False},
                style={"height": "430px"},
            ),
            p=0,
        ),
    ],
)


async def query_in_chunks(total: int, size: int):
    """Stands in for `result.partitions(size)` of a database query: one chunk at a time."""
    rng = random.Random(total)
    for start in range(0, total, size):
        await asyncio.sleep(0.15)
        yield [
            {
                "id": i,
                "desk": rng.choice(DESKS),
                "ticker": rng.choice(TICKERS),
                "side": rng.choice(("BUY", "SELL")),
                "price": round(rng.uniform(10, 900), 2),
                "quantity": rng.randrange(1, 500) * 100,
            }
            for i in range(start, min(total, start + size))
        ]


@event_callback(
    Input("start", "n_clicks"),
    State("rows", "value"),
    State("chunk", "value"),
    cancel=[(Input("cancel", "n_clicks"), 0)],
    # Cancel (or a failure) applies these: the buttons come back and the "Started" notification
    # turns into "Stopped" (reset_props take (id, props) pairs, which `notification` returns).
    reset_props=[
        *IDLE,
        ("status", {"children": "Stopped: the rows received so far stay in the grid."}),
        notification(
            "The query stopped; the rows received so far stay in the grid.",
            "Stopped",
            id=JOB,
            update=True,
            color="orange",
            loading=False,
            autoClose=4000,
        ),
    ],
    on_error=lambda exc: notify(str(exc), "Query failed", color="red", autoClose=False),
)
async def stream_grid(n_clicks, rows, chunk):
    total, size = max(1, int(rows or 5000)), max(1, int(chunk or 250))
    yield stream_props(
        [
            ("start", {"disabled": True, "loading": True}),
            ("cancel", {"disabled": False}),
            ("status", {"children": "Running the query..."}),
            ("progress", {"value": 0}),
            notification(f"Streaming {total:,} rows into the grid.", "Started", id=JOB, loading=True, autoClose=False),
        ]
    )
    loaded = 0
    async for batch in query_in_chunks(total, size):
        # The first chunk replaces the table; later chunks are added without a re-render.
        update = {"rowData": batch} if loaded == 0 else {"rowTransaction": {"add": batch}}
        before, loaded = loaded, loaded + len(batch)
        updates = [
            ("grid", update),
            ("status", {"children": f"{loaded:,} of {total:,} rows"}),
            ("progress", {"value": round(100 * loaded / total, 1)}),
        ]
        if loaded // NOTIFY_EVERY > before // NOTIFY_EVERY and loaded < total:
            updates.append(
                notification(f"{loaded // NOTIFY_EVERY * NOTIFY_EVERY:,} rows loaded", "Progress", color="blue", autoClose=2500)
            )
        yield stream_props(updates)
    yield stream_props([*IDLE, ("status", {"children": f"Done: {total:,} rows."})])
    yield update_notification(JOB, f"All {total:,} rows are in the grid.", "Done", color="green", loading=False, autoClose=4000)


server = app.server  # the ASGI app: `hypercorn examples.grid_stream:server`

if __name__ == "__main__":
    app.run(debug=True)
