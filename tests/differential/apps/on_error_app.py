"""The app-wide `Dash(on_error=...)` handles a streaming callback's exception: its return value
is the last frame."""

from _testgate import install
from dash import Dash, Input, Output, callback, html


def handle(err):
    return f"app handled: {err}", "handled"


app = Dash(__name__, on_error=handle)
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
