"""Closing a tab cancels its streams: the generator's `finally` runs (counted by the gate)."""

from _testgate import install
from dash import Dash, Input, Output, callback, html

app = Dash(__name__)
gate = install(app)
app.layout = html.Div([html.Button("Start", id="start"), html.Div("idle", id="status")])


@callback(Output("status", "children"), Input("start", "n_clicks"), prevent_initial_call=True)
async def run(n_clicks):
    gate.started()
    try:
        yield f"run {n_clicks} streaming"
        await gate()  # the test never releases it: only closing the tab ends this run
        yield f"run {n_clicks} released"
    finally:
        gate.ended()
