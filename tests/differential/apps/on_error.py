"""`on_error=` on a streaming callback: the handler's return value is the last frame (a
`set_props` inside the handler goes with it); a handler returning None ends the stream quietly."""

from _testgate import install
from dash import Dash, Input, Output, callback, html, set_props

app = Dash(__name__)
gate = install(app)
app.layout = html.Div(
    [
        html.Button("Handled", id="handled"),
        html.Button("Quiet", id="quiet"),
        html.Div("idle", id="status"),
        html.Div("idle", id="quiet-status"),
        html.Div("none", id="side"),
    ]
)


def handle(err):
    set_props("side", {"children": f"side from handler: {err}"})
    return f"handled: {err}"


@callback(Output("status", "children"), Input("handled", "n_clicks"), prevent_initial_call=True, on_error=handle)
async def handled(n_clicks):
    gate.started()
    try:
        yield f"handled {n_clicks} step 1"
        await gate()
        raise ValueError(f"handled {n_clicks} failed")
        yield "never"
    finally:
        gate.ended()


@callback(Output("quiet-status", "children"), Input("quiet", "n_clicks"), prevent_initial_call=True, on_error=lambda err: None)
async def quiet(n_clicks):
    gate.started()
    try:
        yield f"quiet {n_clicks} step 1"
        await gate()
        raise ValueError(f"quiet {n_clicks} failed")
        yield "never"
    finally:
        gate.ended()
