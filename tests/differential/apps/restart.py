"""Starting a streaming callback again while its stream still runs."""

from _testgate import install
from dash import Dash, Input, Output, callback, html

app = Dash(__name__)
gate = install(app)
app.layout = html.Div([html.Button("Start", id="start"), html.Div("idle", id="status"), html.Div("-", id="last")])


@callback(Output("status", "children"), Output("last", "children"), Input("start", "n_clicks"), prevent_initial_call=True)
async def run(n_clicks):
    gate.started()
    try:
        yield f"run {n_clicks} step 1", f"run {n_clicks}"
        await gate()
        yield f"run {n_clicks} step 2", f"run {n_clicks}"
        await gate()
    finally:
        gate.ended()
