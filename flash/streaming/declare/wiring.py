"""Connect an app's event callbacks to Dash's callback graph on its first request.

Each group of event callbacks with the same dependencies gets one clientside trigger whose output
is a hidden store of its own (so no id can collide with the user's callbacks); the store's data
carries the streams' client settings, read back as the trigger's last State. Cancel conditions
get the same treatment. A hidden error store feeds a clientside callback that throws the stream's
error, so that in debug mode it shows in dev tools titled with its message, as in Dash 4.5.

An app's event callbacks declared after its first request (`@app.event_callback`, like Dash's
`@app.callback` then) are wired at once, in a container of their own, for pages loaded from then on.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from dash import dcc, html
from dash.dependencies import ClientsideFunction, Input, Output, State
from dash.fingerprint import build_fingerprint

from ... import client
from ..._version import __version__
from ...compat.dash import extra_components
from .spec import EventCallbackSpec, _digest

if TYPE_CHECKING:
    from ..host import StreamHost


def error_store_id(spec: EventCallbackSpec) -> str:
    """The hidden store a stream's errors go through, one per generator name."""
    return f"_flash-error-{_digest([spec.func.__name__])}"


CONTAINER = "_flash-streaming"

# The page client's entry points live in Dash's clientside namespace, not on `window.flash`.
_TRIGGER = ClientsideFunction("_flash", "trigger")
_CANCEL = ClientsideFunction("_flash", "cancel")
_REPORT = ClientsideFunction("_flash", "report")


def prevents_initial_call(app: "StreamHost", spec: EventCallbackSpec) -> bool:
    if spec.prevent_initial_call is None:
        return bool(app.config.prevent_initial_callbacks)
    return spec.prevent_initial_call


def _suite_url(app: "StreamHost", filename: str) -> str:
    """The fingerprinted URL of one of flash.client's scripts, registered so the component-suite
    route serves it."""
    app.registered_paths[client.NAMESPACE].add(filename)
    modified = int(os.stat(os.path.join(os.path.dirname(client.__file__), filename)).st_mtime)
    fingerprint = build_fingerprint(filename, __version__, modified)
    return f"{app.config.requests_pathname_prefix}_dash-component-suites/{client.NAMESPACE}/{fingerprint}"


def hub_url(app: "StreamHost") -> str:
    """The downlink hub's URL as a SharedWorker script: its fragment names, in order, the URLs of
    the wire helpers and the hub's parts, which the worker loads with importScripts (a worker sees
    no page scripts)."""
    parts = "&".join(f"load={quote(_suite_url(app, name), safe='')}" for name in client.WORKER_IMPORTS)
    return f"{_suite_url(app, client.HUB)}#{parts}"


def transport_settings(app: "StreamHost") -> dict[str, Any]:
    prefix = app.config.requests_pathname_prefix
    return {
        "downlink": f"{prefix}_flash/downlink",
        "close": f"{prefix}_flash/close",
        "worker": hub_url(app),
        "giveUp": app.stream_give_up,
    }


def _client_settings(app: "StreamHost", spec: EventCallbackSpec) -> dict[str, Any]:
    settings = {
        "id": spec.stream_id,
        "name": spec.func.__name__,
        "url": f"{app.config.requests_pathname_prefix}_flash/stream/{spec.stream_id}",
        "reset": [[cid, dict(props)] for cid, props in spec.reset_props],
        "errorStore": error_store_id(spec),
        "preventInitial": prevents_initial_call(app, spec),
    }
    if spec.running:  # Dash's running=: [updates when a run starts, updates once it ended]
        settings["running"] = [
            [[cid, {prop: on}] for cid, prop, on, _ in spec.running],
            [[cid, {prop: off}] for cid, prop, _, off in spec.running],
        ]
    return settings


def _wired_ids(app: "StreamHost") -> set[str]:
    """The ids of the stores earlier wirings put on the page."""
    ids: set[str] = set()
    for component in extra_components(app):
        if str(getattr(component, "id", "")).startswith(CONTAINER):
            ids.update(str(child.id) for child in component.children)
    return ids


def _store_id(prefix: str, key: str, members: list[EventCallbackSpec], taken: set[str]) -> str:
    """A group's store id; a later wiring whose group key is taken gets one of its own."""
    store_id = f"{prefix}{key}"
    if store_id in taken:
        store_id = f"{prefix}{_digest([key, *(s.stream_id for s in members)])}"
    return store_id


def _wire_triggers(app: "StreamHost", specs: list[EventCallbackSpec], stores: list[Any], taken: set[str]) -> None:
    transport = transport_settings(app)
    groups: dict[str, list[EventCallbackSpec]] = defaultdict(list)
    for spec in specs:
        groups[spec.trigger_key].append(spec)
    for key, members in groups.items():
        store_id = _store_id("_flash-trigger-", key, members, taken)
        first = members[0]
        data = {"streams": [_client_settings(app, s) for s in members], "transport": transport}
        stores.append(dcc.Store(id=store_id, data=data))
        app.clientside_callback(
            _TRIGGER,
            Output(store_id, "modified_timestamp"),
            *first.inputs,
            *first.states,
            State(store_id, "data"),
            prevent_initial_call=prevents_initial_call(app, first),
            hidden=True,
        )


def _wire_cancels(app: "StreamHost", specs: list[EventCallbackSpec], stores: list[Any], taken: set[str]) -> None:
    groups: dict[str, list[EventCallbackSpec]] = defaultdict(list)
    for spec in specs:
        if spec.cancel:
            groups[spec.cancel_key].append(spec)
    for key, members in groups.items():
        store_id = _store_id("_flash-cancel-", key, members, taken)
        data = {"streams": [{"id": s.stream_id, "desired": [want for _, want in s.cancel]} for s in members]}
        stores.append(dcc.Store(id=store_id, data=data))
        app.clientside_callback(
            _CANCEL,
            Output(store_id, "modified_timestamp"),
            *[dep for dep, _ in members[0].cancel],
            State(store_id, "data"),
            prevent_initial_call=True,
            hidden=True,
        )


def _wire_error_reporting(app: "StreamHost", specs: list[EventCallbackSpec], stores: list[Any], taken: set[str]) -> None:
    """A page with dev tools on writes a failed run's error to its store; the store's clientside
    callback throws it, so dev tools list it titled with its message (and the traceback the
    server sent in debug mode). It never reaches the server: no client text in its logs."""
    for store_id in dict.fromkeys(error_store_id(spec) for spec in specs):
        if store_id in taken:
            continue  # an earlier wiring's store (same function name) and its reporter serve it
        stores.append(dcc.Store(id=store_id))
        app.clientside_callback(_REPORT, Input(store_id, "data"), prevent_initial_call=True, hidden=True)


def wire_streams(app: "StreamHost", specs: list[EventCallbackSpec]) -> None:
    if not specs:
        return
    stores: list[Any] = []
    taken = _wired_ids(app)
    _wire_triggers(app, specs, stores, taken)
    _wire_cancels(app, specs, stores, taken)
    _wire_error_reporting(app, specs, stores, taken)
    extra = extra_components(app)
    earlier = sum(str(getattr(c, "id", "")).startswith(CONTAINER) for c in extra)
    extra.append(html.Div(id=f"{CONTAINER}-{earlier}" if earlier else CONTAINER, children=stores, style={"display": "none"}))
