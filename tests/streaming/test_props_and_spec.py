"""stream_props forms, SSE framing, and decoration-time checks of event_callback."""

import numpy as np
import plotly.graph_objects as go
import pytest

from flash import Input, Output, Patch, State, callback, event_callback, html, stream_props
from flash.exceptions import StreamError
from flash.server.sse import HEARTBEAT, encode_event
from flash.streaming.declare import spec as stream_spec
from flash.testing.sse import parse_events


def test_four_forms_of_stream_props_are_equal():
    one = stream_props("out", {"children": 1})
    assert stream_props(component_id="out", props={"children": 1}) == one
    assert stream_props([("out", {"children": 1})]) == one
    assert stream_props(batch=[("out", {"children": 1})]) == one
    assert one.to_wire() == [["out", {"children": 1}]]


def test_dict_ids_and_batches_keep_order():
    update = stream_props([({"type": "cell", "i": 2}, {"value": 1}), ("b", {"x": 2})])
    assert update.to_wire() == [[{"type": "cell", "i": 2}, {"value": 1}], ["b", {"x": 2}]]


@pytest.mark.parametrize(
    "call",
    [
        lambda: stream_props("out"),
        lambda: stream_props("", {"a": 1}),
        lambda: stream_props(5, {"a": 1}),
        lambda: stream_props("out", ["children"]),
        lambda: stream_props([("out",)]),
        lambda: stream_props(batch="out"),
        lambda: stream_props("out", {"a": 1}, batch=[]),
        lambda: stream_props("out", {1: "x"}),
    ],
)
def test_malformed_stream_props_say_what_to_write(call):
    with pytest.raises(StreamError, match="stream_props|must be"):
        call()


def test_sse_encoding_round_trips_components_figures_numpy_and_patch():
    patch = Patch()
    patch.append("token")
    figure = go.Figure(go.Scatter(y=np.arange(3)))
    update = stream_props(
        [("a", {"children": html.B("x")}), ("g", {"figure": figure}), ("t", {"children": patch}), ("n", {"value": np.int64(7)})]
    )
    raw = encode_event("props", update.to_wire(), seq=9) + HEARTBEAT + encode_event("done", {}, seq=10)
    events = parse_events(raw)
    assert [e["event"] for e in events] == ["props", "done"]
    assert events[0]["id"] == "9" and events[1]["id"] == "10"
    import json

    data = json.loads(events[0]["data"])
    assert data[0][1]["children"]["type"] == "B"
    assert data[1][1]["figure"]["data"][0]["y"] == [0, 1, 2] or "bdata" in json.dumps(data[1][1]["figure"])
    assert data[2][1]["children"]["__dash_patch_update"] == "__dash_patch_update"
    assert data[3][1]["value"] == 7


def test_event_callback_records_a_spec_with_a_stable_id():
    @event_callback(
        Input("go", "n_clicks"),
        State("rows", "value"),
        cancel=[(Input("stop", "n_clicks"), 0)],
        reset_props=[("go", {"disabled": False})],
    )
    async def run_it(n, rows):
        yield stream_props("out", {"children": n})

    spec = stream_spec.PENDING_STREAMS[-1]
    assert spec.func is run_it and run_it.stream_id == spec.stream_id
    assert [str(i) for i in spec.inputs] == ["go.n_clicks"] and [str(s) for s in spec.states] == ["rows.value"]
    assert spec.cancel[0][1] == 0 and spec.is_async
    again = stream_spec.build_spec(run_it, [Input("go", "n_clicks"), State("rows", "value")], None, None, None, True)
    assert again.stream_id == spec.stream_id


def test_sync_generator_is_accepted():
    @event_callback(Input("go", "n_clicks"))
    def gen(n):
        yield stream_props("out", {"children": n})

    assert stream_spec.PENDING_STREAMS[-1].is_async is False


@pytest.mark.parametrize(
    "kwargs,deps,message",
    [
        ({}, [Input("a", "b")], "is a plain function"),
        ({"cancel": Input("s", "n")}, [Input("a", "b")], "cancel must be a list"),
        ({"cancel": [Input("s", "n")]}, [Input("a", "b")], r"each cancel entry must be \(Input"),
        ({"cancel": [("s", 0)]}, [Input("a", "b")], r"each cancel entry must be \(Input"),
        ({"reset_props": {"a": {}}}, [Input("a", "b")], "reset_props must be a list"),
        ({"reset_props": [("a", "disabled")]}, [Input("a", "b")], "each reset_props entry"),
        ({}, [Output("a", "b"), Input("a", "c")], "event callbacks have no Output"),
        ({}, [State("a", "b")], "needs at least one Input"),
        ({"on_error": "nope"}, [Input("a", "b")], "on_error must be a function"),
    ],
)
def test_misuse_fails_at_decoration_time(kwargs, deps, message):
    def plain(*args):
        return None

    async def agen(*args):
        yield None

    target = plain if message == "is a plain function" else agen
    with pytest.raises(StreamError, match=message):
        event_callback(*deps, **kwargs)(target)


def test_async_function_without_yield_is_rejected_with_example():
    with pytest.raises(StreamError, match="(?s)is an async function.*yield stream_props"):

        @event_callback(Input("a", "b"))
        async def not_a_generator(n):
            return 1


def test_callback_on_output_less_generator_becomes_an_event_callback():
    @callback(Input("go", "n_clicks"))
    async def streamer(n):
        yield stream_props("out", {"children": n})

    assert stream_spec.PENDING_STREAMS[-1].func is streamer

    @callback(Output("o", "children"), Input("go", "n_clicks"))
    def normal(n):
        return n

    assert len(stream_spec.PENDING_STREAMS) == 1
