"""Dash 4.5 streaming, the basics: an `async def` generator with Outputs streams (no keyword);
each yield replaces the outputs; `Patch` increments; `no_update` per output; a yield with no
change sends nothing; `set_props` between yields is folded into that frame."""

from _testgate import install
from dash import Dash, Input, Output, Patch, callback, html, no_update, set_props

app = Dash(__name__)
gate = install(app)
app.layout = html.Div(
    [
        html.Button("Start", id="start"),
        html.Div("idle", id="status"),
        html.Div(["-"], id="log"),
        html.Div("0", id="count"),
        html.Div("none", id="side"),
    ]
)


def appended(item):
    log = Patch()
    log.append(item)
    return log


@callback(
    Output("status", "children"),
    Output("log", "children"),
    Output("count", "children"),
    Input("start", "n_clicks"),
    prevent_initial_call=True,
)
async def run(n_clicks):
    gate.started()
    try:
        yield f"run {n_clicks} step 1", [f"a{n_clicks};"], "1"  # replaces all three outputs
        await gate()
        yield no_update, appended("b;"), "2"  # a Patch increments; no_update keeps status
        await gate()
        yield no_update, no_update, no_update  # no change: nothing is sent
        await gate()
        set_props("side", {"children": f"side {n_clicks}.1"})
        yield f"run {n_clicks} step 4", appended("c;"), no_update  # set_props folded into this frame
        await gate()
        set_props("side", {"children": f"side {n_clicks}.2"})
        yield no_update, no_update, no_update  # only the set_props goes out
        await gate()
        yield f"run {n_clicks} step 4", no_update, "3"  # the same status again, a new count
        await gate()
    finally:
        gate.ended()
