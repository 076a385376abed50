"""Not a test module: an app written the way a user of Flash's public API writes one, which
`test_typing.py` type-checks with `mypy --strict` (Flash itself silenced, as an installed
package is). It fails when a public name loses its types, e.g. a decorator typed `-> Any`."""

from typing import Any, AsyncIterator, Iterator

import flash
from flash import (
    ALL,
    Dash,
    Flash,
    Input,
    LocalSharedStorage,
    Output,
    Patch,
    State,
    callback,
    ctx,
    dcc,
    event_callback,
    html,
    no_update,
    set_props,
    stream_props,
)
from flash.exceptions import PreventUpdate

app: Dash = Flash(__name__, shared_storage=LocalSharedStorage())
app.layout = html.Div([html.Button(id="go"), html.Div(id="out"), dcc.Store(id="store"), html.Div(id={"type": "row", "index": 0})])


@callback(Output("out", "children"), Input("go", "n_clicks"), State("store", "data"))
async def show(n_clicks: int | None, data: Any) -> str:
    if n_clicks is None:
        raise PreventUpdate
    set_props("store", {"data": n_clicks})
    return f"{n_clicks} from {ctx.triggered_id}"


@callback(Output("out", "children"), Input("go", "n_clicks"), prevent_initial_call=True)
async def counting(n_clicks: int) -> AsyncIterator[str]:
    for i in range(n_clicks):
        yield str(i)


@event_callback(Input("go", "n_clicks"), cancel=[(Input("store", "data"), None)], reset_props=[("out", {"children": ""})])
async def tokens(n_clicks: int) -> AsyncIterator[Any]:
    patch = Patch()
    patch.append("token")
    yield stream_props("out", {"children": patch})
    yield stream_props(component_id={"type": "row", "index": ALL}, props={"children": "x"})
    yield stream_props(batch=[("out", {"children": "a"}), ("store", {"data": no_update})])


@event_callback(Input("go", "n_clicks"))
def in_a_thread(n_clicks: int) -> Iterator[Any]:
    yield stream_props([("out", {"children": "sync"})])


server = app.server
version: str = flash.__version__
show_again = show  # still the user's own function, with its own signature
