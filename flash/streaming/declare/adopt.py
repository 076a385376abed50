"""Dash 4.5 streaming callbacks registered through `dash.callback` become Flash streams.

A Dash 4.5 app moving to Flash may keep `from dash import callback`: Dash then registers an
`async def` generator as its own streaming callback (marked `stream` in its global registry),
which Dash's renderer would run over Dash's stream transport, a second one beside Flash's. So on
the first request, before Dash's setup copies its global registry into the app, each such entry
is taken out of it and declared again as a Flash streaming callback (the same function, Outputs,
Inputs, States, `prevent_initial_call`, `on_error` and `running`): Flash's downlink carries it
like any other stream. What Flash's streaming callbacks do not take yet (a flexible signature, no
Output) is refused there with a clear message instead of running differently.
"""

from __future__ import annotations

import json
from typing import Any

from dash.dependencies import ALL, ALLSMALLER, MATCH, Input, Output, State

from ...compat.dash import GLOBAL_CALLBACK_LIST, GLOBAL_CALLBACK_MAP, stream_on_error
from ...exceptions import StreamError
from .spec import EventCallbackSpec, build_output_spec

_WILDCARDS = {"MATCH": MATCH, "ALL": ALL, "ALLSMALLER": ALLSMALLER}


def _component_id(value: Any) -> Any:
    """A dependency id as Dash's registry stores it (a dict id as its JSON, wildcards as
    `["MATCH"]`) -> the id a dependency object takes."""
    if not (isinstance(value, str) and value.startswith("{")):
        return value
    parsed = json.loads(value)
    return {
        key: _WILDCARDS[part[0]] if isinstance(part, list) and len(part) == 1 and part[0] in _WILDCARDS else part
        for key, part in parsed.items()
    }


def _running(serialized: Any) -> list[tuple[Output, Any, Any]] | None:
    """Dash's client form of `running=` (`{"running": {"id.prop": on}, "runningOff": {...}}`) ->
    the (Output, on, off) triples it was made from."""
    if not serialized:
        return None
    off = serialized.get("runningOff", {})
    triples = []
    for key, on in serialized.get("running", {}).items():
        component_id, _, prop = key.rpartition(".")
        triples.append((Output(_component_id(component_id), prop), on, off.get(key)))
    return triples


def _adopt(key: str, entry: dict[str, Any], client: dict[str, Any]) -> EventCallbackSpec:
    func = getattr(entry["callback"], "__wrapped__", None)
    name = getattr(func, "__name__", key)
    if func is None:
        raise StreamError(f"streaming callback '{key}' registered with dash.callback has no function to run.")
    flat = isinstance(entry.get("output"), (list, tuple, Output)) and not entry.get("no_output")
    indices = entry.get("inputs_state_indices")
    positional = list(range(len(entry["raw_inputs"]) + len(entry["state"])))
    if not flat or (indices != positional and [indices] != positional):  # an int: one dependency
        raise StreamError(
            f"'{name}' streams (registered with dash.callback) with a flexible signature "
            "(dict or grouped dependencies) or no Output, which Flash's streaming callbacks do "
            "not take: list its Outputs, Inputs and States positionally, or declare it with "
            "flash.callback (without Outputs it yields stream_props)."
        )
    states = [State(_component_id(s["id"]), s["property"]) for s in entry["state"]]
    inputs: list[Input] = list(entry["raw_inputs"])
    spec = build_output_spec(
        func, entry["output"], inputs, states, client.get("prevent_initial_call"), running=_running(client.get("running"))
    )
    spec.on_error = stream_on_error(entry["callback"])
    return spec


def adopt_dash_streams() -> list[EventCallbackSpec]:
    """Take Dash's streaming callbacks out of its global registry, as Flash streams."""
    streams = [key for key, entry in GLOBAL_CALLBACK_MAP.items() if entry.get("stream")]
    if not streams:
        return []
    clients = {spec.get("output"): spec for spec in GLOBAL_CALLBACK_LIST if spec.get("stream")}
    specs = [_adopt(key, GLOBAL_CALLBACK_MAP[key], clients.get(key, {})) for key in streams]
    for key in streams:
        del GLOBAL_CALLBACK_MAP[key]
    GLOBAL_CALLBACK_LIST[:] = [spec for spec in GLOBAL_CALLBACK_LIST if spec.get("output") not in streams]
    return specs
