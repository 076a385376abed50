"""Dash's JSON rules, fast: orjson for plain data and Dash components, Dash's encoder otherwise.

Dash serializes layouts and stream payloads with plotly's encoder, which walks and cleans every
value in Python. Most of what Flash sends is plain JSON and components, which orjson writes
several times faster (a component becomes its `to_plotly_json()` dict, as in Dash). Anything
else — numpy and pandas values, figures, dates, `Patch`, non-string keys — makes orjson give up,
and the whole value goes through Dash's `to_json` instead, so the output follows Dash's rules.
"""

from __future__ import annotations

from typing import Any

import orjson
from dash.development.base_component import Component

from ..compat.dash import to_json

# Types orjson would otherwise write in its own way are handed to `_component`, which refuses them.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _component(value: Any) -> Any:
    if isinstance(value, Component):
        return value.to_plotly_json()
    raise TypeError


def dumps(value: Any) -> bytes:
    """`value` as compact JSON bytes, with the same meaning as Dash's `to_json(value)`."""
    try:
        return orjson.dumps(value, default=_component, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        text: str = to_json(value)
        return text.encode("utf-8")
