"""Dash 4.5 parity of streaming callbacks (issue 23 item 2; the browser side is checked against
Dash 4.5 itself in tests/differential): `running=`, per-callback and app-wide `on_error`, the
error message dev tools show, and the exception classes of refused declarations."""

import pytest
from dash import exceptions as dash_exceptions

from flash import ALL, Input, Output, callback, event_callback, set_props, stream_props
from flash.exceptions import CallbackException, StreamError
from flash.streaming.declare.wiring import _client_settings
from tests.streaming.downlink_client import make_app
from tests.streaming.test_streaming_outputs import stream


# --- running= --------------------------------------------------------------------------------
def test_running_is_taken_and_the_page_gets_its_on_and_off_updates():
    app = make_app()

    @app.callback(
        Output("out", "children"),
        Input("go", "n_clicks"),
        prevent_initial_call=True,
        running=[(Output("go", "disabled"), True, False), (Output({"k": "busy"}, "children"), "busy", "idle")],
    )
    async def busy(n):
        yield "working"

    spec = app._pending_streams[-1]
    assert spec.running == [("go", "disabled", True, False), ({"k": "busy"}, "children", "busy", "idle")]
    assert _client_settings(app, spec)["running"] == [
        [["go", {"disabled": True}], [{"k": "busy"}, {"children": "busy"}]],
        [["go", {"disabled": False}], [{"k": "busy"}, {"children": "idle"}]],
    ]
    # the stream itself is unchanged: running= is applied by the page around it
    assert stream(app, busy.stream_id, state=[]) == [("props", [["out", {"children": "working"}]]), ("done", {})]


def test_a_stream_without_running_sends_no_running_settings():
    app = make_app()

    @app.callback(Output("out", "children"), Input("go", "n_clicks"))
    async def plain(n):
        yield n

    assert "running" not in _client_settings(app, app._pending_streams[-1])


@pytest.mark.parametrize(
    "running,message",
    [
        ({"go": True}, "running must be a list"),
        ([(Output("go", "disabled"), True)], r"each running entry must be \(Output\(id, prop\), on, off\)"),
        ([("go", True, False)], r"each running entry must be \(Output\(id, prop\), on, off\)"),
        ([(Output({"k": ALL}, "disabled"), True, False)], "pattern-matching wildcard"),
    ],
)
def test_malformed_running_fails_at_declaration(running, message):
    app = make_app()
    with pytest.raises(StreamError, match=message):

        @app.callback(Output("out", "children"), Input("go", "n_clicks"), running=running)
        async def busy(n):
            yield n


# --- on_error ----------------------------------------------------------------------------------
def test_on_error_return_is_the_last_frame_with_its_set_props_and_no_error():
    app = make_app()
    seen = []

    def handle(err):
        seen.append(err)
        set_props("side", {"children": f"side: {err}"})
        return f"handled: {err}"

    @callback(Output("out", "children"), Input("go", "n_clicks"), on_error=handle)
    async def breaks(n):
        yield "step 1"
        set_props("side", {"title": "set before the error"})
        raise ValueError("boom")

    events = stream(app, breaks.stream_id, state=[])
    assert isinstance(seen[0], ValueError)
    assert events == [
        ("props", [["out", {"children": "step 1"}]]),
        (
            "props",
            [["side", {"title": "set before the error", "children": "side: boom"}], ["out", {"children": "handled: boom"}]],
        ),
        ("done", {}),  # Dash 4.5: handled, so no callback error
    ]


def test_on_error_returning_none_leaves_the_page_and_shows_no_error():
    app = make_app()

    def handle(err):
        set_props("side", {"children": "dropped, as in Dash 4.5"})

    @callback([Output("out", "children"), Output("side", "title")], Input("go", "n_clicks"), on_error=handle)
    async def quiet(n):
        yield "step 1", "t"
        raise ValueError("boom")

    assert stream(app, quiet.stream_id, state=[]) == [
        ("props", [["out", {"children": "step 1"}], ["side", {"title": "t"}]]),
        ("done", {}),
    ]


def test_an_on_error_that_raises_leaves_the_error_unhandled():
    app = make_app()

    def handle(err):
        raise RuntimeError("the handler broke")

    @callback(Output("out", "children"), Input("go", "n_clicks"), on_error=handle)
    async def breaks(n):
        yield "step 1"
        raise ValueError("boom")

    events = stream(app, breaks.stream_id, debug=True, state=[])
    assert [kind for kind, _ in events] == ["props", "error"]
    assert events[1][1]["handled"] is False and events[1][1]["message"] == "boom"


def test_app_wide_on_error_handles_a_streaming_callback_and_its_own_wins():
    app = make_app(on_error=lambda err: (f"app: {err}", "handled"))

    @callback([Output("out", "children"), Output("side", "children")], Input("go", "n_clicks"))
    async def app_handled(n):
        yield "step 1", "1"
        raise ValueError("boom")

    @callback(Output("out", "title"), Input("go", "n_clicks"), on_error=lambda err: f"own: {err}")
    async def own(n):
        yield "t"
        raise ValueError("bang")

    assert stream(app, app_handled.stream_id, state=[]) == [
        ("props", [["out", {"children": "step 1"}], ["side", {"children": "1"}]]),
        ("props", [["out", {"children": "app: boom"}], ["side", {"children": "handled"}]]),
        ("done", {}),
    ]
    assert stream(app, own.stream_id, state=[])[-2:] == [("props", [["out", {"title": "own: bang"}]]), ("done", {})]


def test_app_wide_on_error_is_not_an_event_callbacks_handler():
    """Event callbacks answer errors with stream_props (their own on_error), not return values."""
    app = make_app(on_error=lambda err: stream_props("side", {"children": "not for event callbacks"}))

    @event_callback(Input("go", "n_clicks"))
    async def events(n):
        yield stream_props("out", {"children": "step 1"})
        raise ValueError("boom")

    events_seen = stream(app, events.stream_id, state=[])
    assert [kind for kind, _ in events_seen] == ["props", "error"] and events_seen[1][1]["handled"] is False


# --- the error dev tools show --------------------------------------------------------------------
def test_in_debug_the_error_message_is_the_exceptions_own():
    app = make_app()

    @callback(Output("out", "children"), Input("go", "n_clicks"))
    async def breaks(n):
        yield "step 1"
        raise ValueError("run 1 failed")

    error = stream(app, breaks.stream_id, debug=True, state=[])[-1][1]
    assert error["message"] == "run 1 failed"  # dev tools title it so, as Dash 4.5 does
    assert "ValueError: run 1 failed" in error["traceback"]


# --- refused declarations raise Dash's classes -------------------------------------------------
async def agen(n):
    yield n


def declare(**options):
    app = make_app()
    app.callback(Output("out", "children"), Input("go", "n_clicks"), **options)(agen)


def test_background_on_a_streaming_callback_raises_dashs_background_callback_error():
    with pytest.raises(dash_exceptions.BackgroundCallbackError) as caught:
        declare(background=True)
    assert isinstance(caught.value, StreamError) and type(caught.value).__name__ == "BackgroundCallbackError"


@pytest.mark.parametrize("options", [{"mcp_enabled": True}, {"api_endpoint": "/api/stream"}])
def test_mcp_and_api_endpoint_on_a_stream_raise_stream_callback_error(options):
    dash_class = getattr(dash_exceptions, "StreamCallbackError", CallbackException)  # Dash 4.5 has it
    with pytest.raises(dash_class) as caught:
        declare(**options)
    assert isinstance(caught.value, StreamError) and isinstance(caught.value, CallbackException)
    assert type(caught.value).__name__ == "StreamCallbackError"


def test_falsy_dash_options_are_not_refusals():
    declare(background=False, mcp_enabled=False, api_endpoint=None)  # Dash 4.5 takes these too
