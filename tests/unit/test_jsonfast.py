"""Flash's fast JSON gives what Dash's encoder gives, for every kind of value a layout or
stream may hold; orjson writes plain data and components, the rest falls back to Dash."""

import dataclasses
import datetime
import decimal

import numpy as np
import orjson
import pandas as pd
import plotly.graph_objects as go
import pytest
from dash._utils import to_json

from flash import Patch, dcc, html
from flash.server import jsonfast


@dataclasses.dataclass
class Point:
    x: int


def _patch():
    patch = Patch()
    patch.append("token")
    patch["title"] = "t"
    return patch


VALUES = {
    "components": html.Div(
        [
            html.H1("Hi", id="h"),
            dcc.Input(id={"type": "in", "index": 1}, value=3.5),
            html.Ul([html.Li(str(i)) for i in range(3)]),
            None,
            "text",
            7,
        ]
    ),
    "plain": {"a": [1, 2.5, None, True, "x"], "nested": {"b": []}},
    "nan_and_inf": {"a": float("nan"), "b": float("inf")},
    "numpy": {"array": np.arange(3), "scalar": np.float64(1.5), "comp": html.Div(np.arange(2))},
    "pandas": {"series": pd.Series([1, 2]), "stamp": pd.Timestamp("2024-01-02 03:04:05")},
    "datetime": [datetime.datetime(2024, 1, 2, 3, 4, 5, 678), datetime.date(2024, 1, 2)],
    "figure": dcc.Graph(figure=go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))),
    "patch": {"p": _patch()},
    "decimal": [decimal.Decimal("1.5")],
    "int_keys": {1: "one"},
    "huge_int": [2**70],
    "dataclass": [Point(1)],
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_same_json_as_dash(name):
    value = VALUES[name]
    try:
        expected = to_json(value)
    except Exception as err:  # Dash cannot encode it either: neither may Flash
        with pytest.raises(type(err)):
            jsonfast.dumps(value)
        return
    assert orjson.loads(jsonfast.dumps(value)) == orjson.loads(expected)


def test_plain_data_and_components_never_reach_dashs_encoder(monkeypatch):
    def refuse(value):
        raise AssertionError("fell back to Dash's encoder")

    monkeypatch.setattr(jsonfast, "to_json", refuse)
    for name in ("components", "plain", "nan_and_inf"):
        jsonfast.dumps(VALUES[name])
    with pytest.raises(AssertionError, match="fell back"):
        jsonfast.dumps(VALUES["numpy"])
