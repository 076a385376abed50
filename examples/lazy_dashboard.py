"""A long dashboard whose panels load only when you scroll to them: the `LazyLoad` component.

Each region's panel is a `LazyLoad(load=region_panel, args={"region": ...})`: the page shows a
placeholder, and when the panel scrolls into view the browser asks the server for it, which
awaits `region_panel(region=...)` (a slow query, simulated) and sends back the layout. Panels
load concurrently; a loaded panel's own callbacks work (pick a metric). The "Archive" panel's
loader fails: the error is shown in its place, with a Retry button.

Run: python examples/lazy_dashboard.py
"""

import asyncio
import random

from flash import MATCH, Flash, Input, Output, callback, ctx, dcc, html
from flash.components import LazyLoad, LazyLoadError, lazy_loader

try:
    from examples.theme import page
except ImportError:  # run as a script: python examples/lazy_dashboard.py
    from theme import page

app = Flash(__name__, title="Lazy dashboard")

REGIONS = ["North", "South", "East", "West", "Central"]
METRICS = {"revenue": "Revenue (k$)", "orders": "Orders", "visitors": "Visitors"}
CARD = {
    "border": "1px solid #dee2e6",
    "borderRadius": "8px",
    "padding": "1rem",
    "margin": "0 0 1.5rem",
    "background": "white",
    "minHeight": "420px",
    "boxShadow": "0 1px 2px rgba(0,0,0,.05)",
}


def series(region: str, metric: str) -> list[float]:
    rng = random.Random(f"{region}-{metric}")  # the same numbers every time for a region
    base = {"revenue": 80, "orders": 400, "visitors": 5000}[metric]
    return [round(base * (1 + 0.3 * rng.random()) * (1 + month / 24), 1) for month in range(12)]


def figure(region: str, metric: str) -> dict:
    return {
        "data": [{"x": list(range(1, 13)), "y": series(region, metric), "type": "bar", "marker": {"color": "#2563eb"}}],
        "layout": {
            "title": {"text": f"{region}: {METRICS[metric]} by month"},
            "height": 300,
            "margin": {"t": 40, "l": 50, "r": 20, "b": 30},
        },
    }


@lazy_loader(name="region_panel")
async def region_panel(region: str):
    """The panel of one region: a slow query (simulated), then the panel's layout."""
    if region not in REGIONS:
        raise LazyLoadError("Unknown region.")
    await asyncio.sleep(0.6)
    total = sum(series(region, "revenue"))
    return html.Div(
        [
            html.H3(f"{region} region", className="panel-title"),
            html.P(f"Revenue this year: {total:,.0f} k$", id={"type": "summary", "region": region}),
            dcc.RadioItems(METRICS, "revenue", id={"type": "metric", "region": region}, inline=True),
            dcc.Graph(id={"type": "chart", "region": region}, figure=figure(region, "revenue")),
        ]
    )


@lazy_loader(name="archive_panel")
async def archive_panel():
    await asyncio.sleep(0.3)
    raise LazyLoadError("The archive database is offline.")


@callback(
    Output({"type": "chart", "region": MATCH}, "figure"),
    Input({"type": "metric", "region": MATCH}, "value"),
    prevent_initial_call=True,
)
async def pick_metric(metric):
    return figure(ctx.triggered_id["region"], metric)


def placeholder(region: str):
    return html.Div(
        f"{region}: loading when you scroll here…", className="panel-placeholder", style={"color": "#9ca3af", "padding": "2rem 0"}
    )


app.layout = page(
    "Lazy dashboard",
    "Scroll down: each region's panel is fetched from the server (an async layout function) when it comes into view.",
    [
        *[
            LazyLoad(
                id=f"panel-{region.lower()}",
                load=region_panel,
                args={"region": region},
                placeholder=placeholder(region),
                style=CARD,
            )
            for region in REGIONS
        ],
        LazyLoad(id="panel-archive", load=archive_panel, placeholder=placeholder("Archive"), style=CARD),
    ],
)


server = app.server  # the ASGI app: `hypercorn examples.lazy_dashboard:server`

if __name__ == "__main__":
    app.run(debug=True)
