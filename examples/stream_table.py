"""Chunked table stream: rows reach a dash-ag-grid chunk by chunk while the "query" still runs.

Start disables itself and shows Stop; the first chunk sets `rowData`, every later chunk is added
with `rowTransaction` so the grid keeps the rows it already has. Stop closes the stream (the
generator's `finally` runs on the server) and `reset_props` puts the buttons back.

Run: python examples/stream_table.py
"""

import asyncio
import random

import dash_ag_grid as dag

from flash import Flash, Input, State, dcc, event_callback, html, stream_props

try:
    from examples.theme import card, page
except ImportError:  # run as a script: python examples/stream_table.py
    from theme import card, page

app = Flash(__name__, title="Chunked table stream")

TICKERS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "ORCL"]
COLUMNS = [
    {"field": "id", "maxWidth": 100},
    {"field": "ticker"},
    {"field": "price", "valueFormatter": {"function": "d3.format('.2f')(params.value)"}},
    {"field": "volume", "valueFormatter": {"function": "d3.format(',')(params.value)"}},
]

app.layout = page(
    "Chunked table stream",
    "Rows stream into dash-ag-grid chunk by chunk; Stop cancels the stream and reset_props restores the buttons.",
    [
        card(
            html.Div(
                [
                    html.Button("Start", id="start"),
                    html.Button("Stop", id="stop", hidden=True),
                    html.Label([" Rows ", dcc.Input(id="rows", type="number", value=5000, min=100, step=100)]),
                    html.Label([" Chunk ", dcc.Input(id="chunk", type="number", value=250, min=10, step=10)]),
                    html.P("Press Start to run the query.", id="status"),
                ],
                className="controls-row",
            )
        ),
        card(
            dag.AgGrid(
                id="grid",
                columnDefs=COLUMNS,
                rowData=[],
                getRowId="params.data.id",
                defaultColDef={"sortable": True, "filter": True, "flex": 1},
                style={"height": "420px"},
            ),
            p=0,
        ),
    ],
)


async def query_in_chunks(total: int, size: int):
    """Stands in for a database cursor or a paginated API: one chunk of rows at a time."""
    rng = random.Random(total)
    for start in range(0, total, size):
        await asyncio.sleep(0.1)
        yield [
            {
                "id": i,
                "ticker": rng.choice(TICKERS),
                "price": round(rng.uniform(10, 900), 2),
                "volume": rng.randrange(100, 1_000_000),
            }
            for i in range(start, min(total, start + size))
        ]


@event_callback(
    Input("start", "n_clicks"),
    State("rows", "value"),
    State("chunk", "value"),
    cancel=[(Input("stop", "n_clicks"), 0)],
    reset_props=[("start", {"disabled": False}), ("stop", {"hidden": True})],
    on_error=lambda exc: stream_props("status", {"children": f"Failed: {exc}"}),
)
async def stream_table(n_clicks, rows, chunk):
    total, size = max(1, int(rows or 5000)), max(1, int(chunk or 250))
    yield stream_props(
        [("start", {"disabled": True}), ("stop", {"hidden": False}), ("status", {"children": "Running the query..."})]
    )
    loaded = 0
    async for batch in query_in_chunks(total, size):
        # The first chunk replaces the table; later chunks are appended without a re-render.
        update = {"rowData": batch} if loaded == 0 else {"rowTransaction": {"add": batch}}
        loaded += len(batch)
        yield stream_props([("grid", update), ("status", {"children": f"{loaded:,} of {total:,} rows"})])
    yield stream_props(
        [("start", {"disabled": False}), ("stop", {"hidden": True}), ("status", {"children": f"Done: {total:,} rows."})]
    )


server = app.server  # the ASGI app: `hypercorn examples.stream_table:server`

if __name__ == "__main__":
    app.run(debug=True)
