"""`PreventUpdate` raised inside a streaming callback ends the stream cleanly: what was shown
stays, no error is reported, and the callback can run again."""

from _testgate import install
from dash import Dash, Input, Output, callback, html
from dash.exceptions import PreventUpdate

app = Dash(__name__)
gate = install(app)
app.layout = html.Div([html.Button("Start", id="start"), html.Div("idle", id="status"), html.Div("0", id="count")])


@callback(Output("status", "children"), Output("count", "children"), Input("start", "n_clicks"), prevent_initial_call=True)
async def run(n_clicks):
    gate.started()
    try:
        yield f"run {n_clicks} step 1", "1"
        await gate()
        yield f"run {n_clicks} step 2", "2"
        await gate()
        raise PreventUpdate
        yield "never", "never"
    finally:
        gate.ended()
