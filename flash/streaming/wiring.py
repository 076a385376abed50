"""Connect an app's event callbacks to Dash's callback graph on its first request.

Each group of event callbacks with the same dependencies gets one clientside trigger whose output
is a hidden store of its own (so no id can collide with the user's callbacks); the store's data
carries the streams' client settings, read back as the trigger's last State. Cancel conditions
get the same treatment. A hidden error store feeds a server callback that raises, so that in debug
mode a stream error shows in dev tools like a callback error.
"""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from dash import dcc, html
from dash.dependencies import Input, Output, State

from ..exceptions import StreamError
from .spec import EventCallbackSpec

if TYPE_CHECKING:
    from ..app import Flash

ERROR_STORE = "_flash-stream-error"
CONTAINER = "_flash-streaming"

_TRIGGER_JS = (
    "function() { var a = Array.prototype.slice.call(arguments);"
    " return window.flash.trigger(a[a.length - 1], window.dash_clientside.callback_context); }"
)
_CANCEL_JS = (
    "function() { var a = Array.prototype.slice.call(arguments);"
    " return window.flash.cancel(a[a.length - 1], window.dash_clientside.callback_context); }"
)


def _client_settings(app: "Flash", spec: EventCallbackSpec) -> dict[str, Any]:
    return {
        "id": spec.stream_id,
        "name": spec.func.__name__,
        "url": f"{app.config.requests_pathname_prefix}_flash/stream/{spec.stream_id}",
        "reset": [[cid, dict(props)] for cid, props in spec.reset_props],
        "errorStore": ERROR_STORE,
        "preventInitial": spec.prevent_initial_call,
    }


def _wire_triggers(app: "Flash", specs: list[EventCallbackSpec], stores: list[Any]) -> None:
    groups: dict[str, list[EventCallbackSpec]] = defaultdict(list)
    for spec in specs:
        groups[spec.trigger_key].append(spec)
    for key, members in groups.items():
        store_id = f"_flash-trigger-{key}"
        first = members[0]
        stores.append(dcc.Store(id=store_id, data={"streams": [_client_settings(app, s) for s in members]}))
        app.clientside_callback(
            _TRIGGER_JS,
            Output(store_id, "modified_timestamp"),
            *first.inputs,
            *first.states,
            State(store_id, "data"),
            prevent_initial_call=first.prevent_initial_call,
            hidden=True,
        )


def _wire_cancels(app: "Flash", specs: list[EventCallbackSpec], stores: list[Any]) -> None:
    groups: dict[str, list[EventCallbackSpec]] = defaultdict(list)
    for spec in specs:
        if spec.cancel:
            groups[spec.cancel_key].append(spec)
    for key, members in groups.items():
        store_id = f"_flash-cancel-{key}"
        data = {"streams": [{"id": s.stream_id, "desired": [want for _, want in s.cancel]} for s in members]}
        stores.append(dcc.Store(id=store_id, data=data))
        app.clientside_callback(
            _CANCEL_JS,
            Output(store_id, "modified_timestamp"),
            *[dep for dep, _ in members[0].cancel],
            State(store_id, "data"),
            prevent_initial_call=True,
            hidden=True,
        )


def _wire_error_reporting(app: "Flash", stores: list[Any]) -> None:
    stores.append(dcc.Store(id=ERROR_STORE))

    @app.callback(Input(ERROR_STORE, "data"), prevent_initial_call=True, hidden=True)
    def report_stream_error(error: Any) -> None:
        if error:
            raise StreamError(
                f"Event callback '{error.get('stream')}' failed: {error.get('message')}\n\n"
                f"{error.get('traceback', '')}"
            )


def wire_streams(app: "Flash", specs: list[EventCallbackSpec]) -> None:
    if not specs:
        return
    stores: list[Any] = []
    _wire_triggers(app, specs, stores)
    _wire_cancels(app, specs, stores)
    _wire_error_reporting(app, stores)
    app._extra_components.append(  # pylint: disable=protected-access
        html.Div(id=CONTAINER, children=stores, style={"display": "none"})
    )
