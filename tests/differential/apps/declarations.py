"""What a streaming callback refuses at declaration. Run as a script, it prints one JSON object:
for each case, whether declaring it raised, and the exception's class name."""

import json

from dash import Dash, Input, Output, callback, html

app = Dash(__name__)
app.layout = html.Div([html.Button("Start", id="start"), html.Button("Stop", id="stop"), html.Div(id="out")])


async def agen(n_clicks):
    yield n_clicks


def sync_gen(n_clicks):
    yield n_clicks


CASES = {
    "background=True": (agen, {"background": True}),
    "mcp_enabled=True": (agen, {"mcp_enabled": True}),
    "api_endpoint": (agen, {"api_endpoint": "/api/stream"}),
    "sync generator": (sync_gen, {}),
    "async generator": (agen, {}),
    "cancel=[Input]": (agen, {"cancel": [Input("stop", "n_clicks")]}),
    "cancel=[(Input, state)]": (agen, {"cancel": [(Input("stop", "n_clicks"), None)]}),
}


def declare(func, options):
    try:
        callback(
            Output("out", "children", allow_duplicate=True), Input("start", "n_clicks"), prevent_initial_call=True, **options
        )(func)
    except Exception as err:
        return {"refused": True, "type": type(err).__name__, "mro": [cls.__name__ for cls in type(err).__mro__]}
    return {"refused": False, "type": None, "mro": []}


if __name__ == "__main__":
    print(json.dumps({name: declare(func, options) for name, (func, options) in CASES.items()}))
