"""Misuses of Flash's stream decorators fail when the code is declared, saying what to write;
what a Dash user may rightly do (an `@app.callback` after the first request) works."""

import json

import pytest

import flash
from flash import Flash, Input, Output, State, event_callback, stream_props
from flash.exceptions import StreamError
from flash.streaming.declare import spec as stream_spec
from tests.conftest import run
from tests.streaming.downlink_client import Downlink, make_app, props_values, setup


async def dependencies(client):
    return json.loads(await (await client.get("/_dash-dependencies")).get_data())


async def layout_ids(client):
    layout = json.loads(await (await client.get("/_dash-layout")).get_data())
    found = []

    def walk(node):
        if isinstance(node, dict):
            if "props" in node:
                if node["props"].get("id") is not None:
                    found.append(node["props"]["id"])
                walk(node["props"].get("children"))
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(layout)
    return found


def declare_early(app, text):
    """The same stream each call (same function, same dependencies), as a re-imported module."""

    @app.event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def early(n, rows):
        yield stream_props("out", {"children": text})

    return early


@pytest.mark.parametrize("declare", ["event_callback", "callback"])
def test_a_stream_declared_on_the_app_after_its_first_request_is_wired_for_later_pages(declare):
    app = make_app()
    declare_early(app, "early")

    async def go():
        client = app.server.test_client()
        await setup(client)  # the first request takes the app's streams
        before = len(await dependencies(client))
        decorator = app.event_callback if declare == "event_callback" else app.callback

        # The same dependencies as `early`, whose trigger group is on the page already.
        @decorator(Input("go", "n_clicks"), State("rows", "children"))
        async def late(n, rows):
            yield stream_props("out", {"children": f"late {n} {rows}"})

        again = declare_early(app, "early again")  # declared again: no new wiring, the latest runs

        @decorator(Input("side", "n_clicks"))
        async def early(n):  # another stream, named like one on the page (its error store)
            yield stream_props("out", {"children": "other"})

        after = len(await dependencies(client))
        ids = await layout_ids(client)
        async with Downlink(client) as downlink:
            handle = await downlink.start(late.stream_id, n=2, rows=5)
            late_messages = await downlink.finished(handle)
            handle = await downlink.start(again.stream_id)
            again_messages = await downlink.finished(handle)
        return before, after, ids, late_messages, again_messages

    before, after, ids, late_messages, again_messages = run(go())
    assert after == before + 3  # late's trigger and error reporter, the other's trigger
    assert len(ids) == len(set(ids))  # no id on the page twice
    assert {"_flash-streaming", "_flash-streaming-1", "_flash-streaming-2"} <= set(ids)
    assert props_values(late_messages) == ["late 2 5"]
    assert props_values(again_messages) == ["early again"]


def test_a_module_level_stream_declared_after_the_app_served_is_wired_into_it_and_still_waits():
    app = make_app()

    async def go(stream_id=None):
        client = app.server.test_client()
        await setup(client)
        if stream_id is None:
            return None
        async with Downlink(client) as downlink:
            return await downlink.finished(await downlink.start(stream_id))

    run(go())  # the app has served

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def late(n, rows):
        yield stream_props("out", {"children": f"late {n}"})

    @flash.callback(Output("side", "children"), Input("go", "n_clicks"), State("rows", "children"))
    async def late_output(n, rows):
        yield f"side {n}"

    assert props_values(run(go(late.stream_id))) == ["late 1"]
    assert props_values(run(go(late_output.stream_id)), "side") == ["side 1"]
    # Dash's rule still holds for an app created next (a test suite's next app): it takes them.
    assert [s.func for s in stream_spec.PENDING_STREAMS] == [late, late_output]
    nxt = make_app()
    run(nxt.server.test_client().get("/"))
    assert {late.stream_id, late_output.stream_id} <= set(nxt.streams)


def test_a_module_level_stream_declared_before_a_new_app_is_created_is_still_taken():
    make_app()  # no request: nothing served

    @event_callback(Input("go", "n_clicks"))
    async def early(n):
        yield stream_props("out", {"children": n})

    assert stream_spec.PENDING_STREAMS[-1].func is early


@pytest.mark.parametrize(
    "decorate",
    [
        lambda f: event_callback(Input("go", "n_clicks"), cancel=[Input("stop", "n_clicks")])(f),
        lambda f: flash.callback(Input("go", "n_clicks"), cancel=[Input("stop", "n_clicks")])(f),
        lambda f: flash.callback(Output("out", "children"), Input("go", "n_clicks"), cancel=[Input("stop", "n_clicks")])(f),
        lambda f: Flash(__name__).callback(Input("go", "n_clicks"), cancel=Input("stop", "n_clicks"))(f),
    ],
)
def test_dashs_cancel_form_on_a_stream_explains_flashs_form_with_the_users_ids(decorate):
    async def streamer(n):
        yield n

    with pytest.raises(StreamError) as caught:
        decorate(streamer)
    message = str(caught.value)
    assert "Dash's background-callback form" in message
    assert "cancel=[(Input('stop', 'n_clicks'), None)]" in message
    assert "'streamer'" in message


def test_dashs_cancel_form_for_any_prop_says_which_value_to_give():
    with pytest.raises(StreamError, match=r"\(Input\('tabs', 'value'\), <the value it has while the stream runs>\)"):

        @event_callback(Input("go", "n_clicks"), cancel=[Input("tabs", "value")])
        async def streamer(n):
            yield None


def test_background_callbacks_keep_dashs_cancel_form():
    app = Flash(__name__)

    @flash.callback(Output("out", "children"), Input("go", "n_clicks"), background=True, cancel=[Input("stop", "n_clicks")])
    def job(n):
        return n

    @app.callback(Output("out2", "children"), Input("go", "n_clicks"), background=True, cancel=[Input("stop", "n_clicks")])
    def app_job(n):
        return n

    from dash import _callback

    callbacks = list(_callback.GLOBAL_CALLBACK_MAP.items()) + list(app.callback_map.items())
    cancels = [cb["background"]["cancel"] for key, cb in callbacks if key in ("out.children", "out2.children")]
    assert cancels == [[{"id": "stop", "property": "n_clicks"}]] * 2
    assert stream_spec.PENDING_STREAMS == [] and app._pending_streams == []


def test_flashs_cancel_form_works_on_a_streaming_callback_with_outputs():
    app = make_app()

    @app.callback(Output("out", "children"), Input("go", "n_clicks"), cancel=[(Input("stop", "n_clicks"), None)])
    async def answer(n):
        yield n

    assert app._pending_streams[-1].cancel == [(Input("stop", "n_clicks"), None)]

    async def go():
        client = app.server.test_client()
        await setup(client)
        return await dependencies(client)

    deps = run(go())
    assert any(
        d["output"].startswith("_flash-cancel-") and d["inputs"][0] == {"id": "stop", "property": "n_clicks"} for d in deps
    )


@pytest.mark.parametrize("with_outputs", [False, True])
def test_app_callback_on_an_output_less_generator_is_an_event_callback_and_dash_only_options_fail(with_outputs):
    app = make_app()
    outputs = [Output("out", "children")] if with_outputs else []

    # running= is Dash 4.5's and works on streams (test_dash45_parity.py); progress= does not
    with pytest.raises(StreamError, match=r"(?s)'busy' is a generator.*does not take progress=\..*yield the progress"):

        @app.callback(
            *outputs,
            Input("go", "n_clicks"),
            running=[(Output("go", "disabled"), True, False)],
            progress=[Output("out", "title")],
        )
        async def busy(n):
            yield None

    if with_outputs:
        with pytest.raises(StreamError, match=r"(?s)does not take reset_props=.*drop the Outputs"):

            @app.callback(*outputs, Input("go", "n_clicks"), reset_props=[("go", {"disabled": False})])
            async def resetting(n):
                yield None

        return

    @app.callback(Input("go", "n_clicks"), State("rows", "children"), False, hidden=True)
    def streams(n, rows):  # a sync generator, and Dash's positional prevent_initial_call
        yield stream_props("out", {"children": f"sync {n} {rows}"})

    spec = app._pending_streams[-1]
    assert spec.func is streams and spec.prevent_initial_call is False

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            handle = await downlink.start(streams.stream_id, n=3, rows=4)
            return await downlink.finished(handle)

    assert props_values(run(go())) == ["sync 3 4"]
