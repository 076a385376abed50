"""An exception in a streaming callback without `on_error` ends the stream with a callback
error (the debug dev tools count it); what was already shown stays."""

from _testgate import install
from dash import Dash, Input, Output, callback, html

app = Dash(__name__)
gate = install(app)
app.layout = html.Div([html.Button("Start", id="start"), html.Div("idle", id="status"), html.Div("0", id="count")])


@callback(Output("status", "children"), Output("count", "children"), Input("start", "n_clicks"), prevent_initial_call=True)
async def run(n_clicks):
    gate.started()
    try:
        yield f"run {n_clicks} step 1", "1"
        await gate()
        raise ValueError(f"run {n_clicks} failed")
        yield "never", "never"
    finally:
        gate.ended()
