"""`running=` on a streaming callback: its values hold from the start of the stream to its end."""

from _testgate import install
from dash import Dash, Input, Output, callback, html

app = Dash(__name__)
gate = install(app)
app.layout = html.Div([html.Button("Start", id="start"), html.Div("idle", id="busy"), html.Div("-", id="status")])


@callback(
    Output("status", "children"),
    Input("start", "n_clicks"),
    prevent_initial_call=True,
    running=[(Output("start", "disabled"), True, False), (Output("busy", "children"), "busy", "idle")],
)
async def run(n_clicks):
    gate.started()
    try:
        yield f"run {n_clicks} step 1"
        await gate()
        yield f"run {n_clicks} step 2"
        await gate()
    finally:
        gate.ended()
