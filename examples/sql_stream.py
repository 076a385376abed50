"""Streaming query results with async SQLAlchemy: rows reach the grid while the query still runs.

The example keeps a real SQLite file (created and seeded with generated orders on first use, in
`$FLASH_SQL_EXAMPLE_DB` or the temp dir) and queries it with SQLAlchemy's asyncio API over
aiosqlite. `conn.stream(select(...))` returns a server-side cursor; `result.partitions(size)`
hands over `size` rows at a time, and each partition is yielded to the page as a `rowTransaction`.
Cancel closes the generator: leaving `async with engine.connect()` closes the cursor and returns
the connection, so a cancelled query stops reading at once.

Run: python examples/sql_stream.py
"""

import asyncio
import datetime as dt
import os
import random
import tempfile
import time
from pathlib import Path

import dash_ag_grid as dag
import dash_mantine_components as dmc
from sqlalchemy import Column, Date, Float, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from flash import Flash, Input, State, event_callback, stream_props
from flash.notifications import notification, notify

try:
    from examples.theme import card, page
except ImportError:  # run as a script: python examples/sql_stream.py
    from theme import card, page

app = Flash(__name__, title="SQL stream")

DB_PATH = Path(os.environ.get("FLASH_SQL_EXAMPLE_DB") or Path(tempfile.gettempdir()) / "flash-examples" / "orders.sqlite3")
SEED_ROWS = 50_000
REGIONS = ["North", "South", "East", "West", "Central"]
PRODUCTS = ["Widget", "Gadget", "Doohickey", "Gizmo", "Sprocket", "Flux capacitor"]

metadata = MetaData()
orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ordered_on", Date, nullable=False),
    Column("customer", String(40), nullable=False),
    Column("region", String(20), nullable=False, index=True),
    Column("product", String(40), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("amount", Float, nullable=False),
)
engine = create_async_engine(f"sqlite+aiosqlite:///{DB_PATH}")
_seeding = asyncio.Lock()


def fake_orders(count: int):
    """The same `count` generated orders every time."""
    rng = random.Random(7)
    first = dt.date(2026, 1, 1)
    for i in range(1, count + 1):
        quantity = rng.randint(1, 40)
        yield {
            "id": i,
            "ordered_on": first + dt.timedelta(days=rng.randrange(330)),
            "customer": f"Customer {rng.randrange(1, 900):03d}",
            "region": rng.choice(REGIONS),
            "product": rng.choice(PRODUCTS),
            "quantity": quantity,
            "amount": round(quantity * rng.uniform(4, 120), 2),
        }


async def ensure_database() -> None:
    """Create and seed the database file on first use. It is built under a temporary name and
    renamed into place, so another worker never sees a half-seeded file."""
    async with _seeding:
        if DB_PATH.exists():
            return
        DB_PATH.parent.mkdir(parents=True, exist_ok=True)
        building = DB_PATH.with_name(f"{DB_PATH.name}.{os.getpid()}.tmp")
        building.unlink(missing_ok=True)
        seed_engine = create_async_engine(f"sqlite+aiosqlite:///{building}")
        try:
            async with seed_engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
                rows = list(fake_orders(SEED_ROWS))
                for start in range(0, len(rows), 5000):
                    await conn.execute(insert(orders), rows[start : start + 5000])
        finally:
            await seed_engine.dispose()
        os.replace(building, DB_PATH)


def query(region: str, min_amount: float):
    conditions = [orders.c.amount >= min_amount]
    if region != "All":
        conditions.append(orders.c.region == region)
    return select(orders).where(*conditions).order_by(orders.c.id)


def as_row(row) -> dict:
    data = dict(row._mapping)
    data["ordered_on"] = data["ordered_on"].isoformat()
    return data


COLUMNS = [
    {"field": "id", "headerName": "#", "maxWidth": 90},
    {"field": "ordered_on", "headerName": "Date", "maxWidth": 130},
    {"field": "customer"},
    {"field": "region", "maxWidth": 120},
    {"field": "product"},
    {"field": "quantity", "type": "rightAligned", "maxWidth": 120},
    {"field": "amount", "type": "rightAligned", "valueFormatter": {"function": "d3.format('$,.2f')(params.value)"}},
]
IDLE = [("start", {"disabled": False, "loading": False}), ("cancel", {"disabled": True})]

app.layout = page(
    "SQL stream",
    "Async SQLAlchemy + aiosqlite: conn.stream(select(...)) partitions reach the grid as they are read.",
    [
        card(
            [
                dmc.Group(
                    [
                        dmc.Select(id="region", label="Region", data=["All", *REGIONS], value="All", w=140, allowDeselect=False),
                        dmc.NumberInput(id="min-amount", label="Min amount ($)", value=0, min=0, step=100, w=150),
                        dmc.NumberInput(id="partition", label="Partition size", value=100, min=10, step=100, w=140),
                        dmc.Switch(id="slow", label="25 ms per partition (a remote database)", checked=True, mb=8),
                    ],
                    align="flex-end",
                    gap="md",
                ),
                dmc.Group(
                    [
                        dmc.Button("Run query", id="start", n_clicks=0),
                        dmc.Button("Cancel", id="cancel", n_clicks=0, color="red", variant="light", disabled=True),
                        dmc.Text("Press Run query to stream the orders.", id="status", size="sm", fw=500),
                    ],
                    mt="md",
                    gap="md",
                ),
                dmc.Code("", id="sql", block=True, mt="md", style={"whiteSpace": "pre-wrap"}),
            ]
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


@event_callback(
    Input("start", "n_clicks"),
    State("region", "value"),
    State("min-amount", "value"),
    State("partition", "value"),
    State("slow", "checked"),
    cancel=[(Input("cancel", "n_clicks"), 0)],
    reset_props=[
        *IDLE,
        ("status", {"children": "Cancelled: the query was closed; the rows read stay."}),
        notification("The cursor was closed.", "Query cancelled", id="sql-cancelled", color="orange"),
    ],
    on_error=lambda exc: notify(str(exc), "Query failed", color="red", autoClose=False),
)
async def run_query(n_clicks, region, min_amount, partition, slow):
    region, minimum, size = region or "All", float(min_amount or 0), max(1, int(partition or 100))
    yield stream_props(
        [
            ("start", {"disabled": True, "loading": True}),
            ("cancel", {"disabled": False}),
            ("status", {"children": "Opening the database..."}),
        ]
    )
    await ensure_database()
    statement = query(region, minimum)
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    started, loaded = time.monotonic(), 0
    async with engine.connect() as conn:
        total = await conn.scalar(select(func.count()).select_from(statement.subquery()))
        yield stream_props(
            [("sql", {"children": sql}), ("status", {"children": f"0 of {total:,} rows"}), ("grid", {"rowData": []})]
        )
        result = await conn.stream(statement)
        async for part in result.partitions(size):
            rows = [as_row(row) for row in part]
            loaded += len(rows)
            yield stream_props(
                [("grid", {"rowTransaction": {"add": rows}}), ("status", {"children": f"{loaded:,} of {total:,} rows"})]
            )
            if slow:
                await asyncio.sleep(0.025)
    seconds = time.monotonic() - started
    yield stream_props(
        [
            *IDLE,
            ("status", {"children": f"Done: {loaded:,} rows in {seconds:.1f} s."}),
            notification(f"{loaded:,} orders streamed in {seconds:.1f} s.", "Query done", color="green"),
        ]
    )


server = app.server  # the ASGI app: `hypercorn examples.sql_stream:server`

if __name__ == "__main__":
    app.run(debug=True)
