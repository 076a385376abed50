"""Dash 4.5's streaming callbacks: a generator with Outputs yields return values, not stream_props.

Each yield has the shape of a normal return value (one value per Output, in order; a single
Output unwrapped unless it was declared as a list). `no_update` skips an output; a yield where
nothing updates sends nothing. The values travel as prop updates on the run's downlink.
"""

from __future__ import annotations

from typing import Any

import dash

from ...exceptions import StreamError
from .spec import EventCallbackSpec

_NO_UPDATE = type(dash.no_update)


def output_updates(item: Any, spec: EventCallbackSpec) -> list[list[Any]]:
    targets = spec.outputs or []
    if spec.multi_output:
        if isinstance(item, _NO_UPDATE):
            return []
        if not isinstance(item, (list, tuple)) or len(item) != len(targets):
            raise StreamError(
                f"streaming callback '{spec.func.__name__}' declares {len(targets)} Outputs, so each "
                f"yield must be a list or tuple of {len(targets)} values (got {type(item).__name__})."
            )
        values = list(item)
    else:
        values = [item]
    updates: list[list[Any]] = []
    for (component_id, prop), value in zip(targets, values):
        if isinstance(value, _NO_UPDATE):
            continue
        if updates and updates[-1][0] == component_id:
            updates[-1][1][prop] = value
        else:
            updates.append([component_id, {prop: value}])
    return updates
