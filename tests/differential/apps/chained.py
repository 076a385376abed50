"""What else a streamed output touches on the page: a callback whose Input is a streamed output
(here a clientside counter of how often `status` is set), and a `dcc.Loading` around it."""

from _testgate import install
from dash import Dash, Input, Output, callback, clientside_callback, dcc, html

app = Dash(__name__)
gate = install(app)
app.layout = html.Div(
    [
        html.Button("Start", id="start"),
        dcc.Loading(html.Div("idle", id="status"), id="loading", delay_show=0),
        html.Div("0", id="renders"),
    ]
)

clientside_callback(
    "function (status) { window.__renders = (window.__renders || 0) + 1; return String(window.__renders); }",
    Output("renders", "children"),
    Input("status", "children"),
)


@callback(Output("status", "children"), Input("start", "n_clicks"), prevent_initial_call=True)
async def run(n_clicks):
    gate.started()
    try:
        yield f"run {n_clicks} step 1"
        await gate()
        yield f"run {n_clicks} step 2"
        await gate()
    finally:
        gate.ended()
