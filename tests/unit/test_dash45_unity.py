"""On Dash 4.5, Dash and Flash share one storage object and one stream transport (Flash's).

Dash 4.5 ships shared storage and streaming of its own; under Flash both are Flash's: the
backend Dash holds is Flash's (`app.shared_storage`, Dash's `ctx.shared_storage`), each side
accepts the other's backends, and the page config turns Dash's stream transport off (no worker
script, nothing marked `stream`). On Dash 4.4 the parts that need Dash 4.5 are skipped."""

from __future__ import annotations

import json
import uuid

import dash
import pytest

import flash
from flash import Flash, Input, Output, ctx, html
from flash.storage import config as storage_config
from tests.conftest import callback_body, dep, run

DASH45 = pytest.mark.skipif(
    not hasattr(dash, "BaseSharedStorage"), reason="needs Dash 4.5 (its own shared storage and streaming)"
)


@pytest.fixture
def no_env(monkeypatch):
    for name in storage_config.ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def namespace():
    return f"test-{uuid.uuid4().hex[:12]}"


def _config(app):
    async def go():
        client = app.server.test_client()
        html_page = await (await client.get("/")).get_data(as_text=True)
        marker = '<script id="_dash-config" type="application/json">'
        start = html_page.index(marker) + len(marker)
        return json.loads(html_page[start : html_page.index("</script>", start)])

    return run(go())


@DASH45
def test_dash_holds_flashs_backend_and_both_properties_answer_it(namespace, no_env):
    backend = flash.LocalSharedStorage(namespace=namespace)
    app = Flash(__name__, shared_storage=backend)
    assert isinstance(backend, dash.BaseSharedStorage)
    assert app.shared_storage_enabled
    assert app.shared_storage is backend
    assert dash.Dash.shared_storage.fget(app) is backend  # Dash's own property: the same object
    backend.close()


@DASH45
def test_off_means_off_for_dash_too(no_env):
    app = Flash(__name__)
    assert not app.shared_storage_enabled  # Dash's LocalSharedStorage default never starts
    with pytest.raises(dash.SharedStorageError):
        dash.Dash.shared_storage.fget(app)


@DASH45
def test_dash_classes_and_instances_are_accepted(namespace, no_env):
    app = Flash(__name__, shared_storage=dash.LocalSharedStorage)
    assert type(app.shared_storage) is flash.LocalSharedStorage  # Flash's backend of that name
    theirs = dash.LocalSharedStorage()
    other = Flash(__name__, shared_storage=theirs)
    assert other.shared_storage is theirs
    theirs.set("k", {"v": 1})
    assert other.shared_storage.get("k") == {"v": 1}
    theirs.close()


@DASH45
def test_the_errors_are_dashs(namespace):
    assert flash.SharedStorageError is dash.SharedStorageError
    assert flash.SharedStorageGap is dash.SharedStorageGap
    backend = flash.LocalSharedStorage(namespace=namespace, buffer_size=2)
    for i in range(5):
        backend.publish("t", i)
    with pytest.raises(dash.SharedStorageGap):
        backend.subscribe("t", replay_from=1).poll(timeout=0)
    backend.close()


def test_dash_ctx_shared_storage_and_get_app_answer_the_serving_app(namespace, no_env):
    """Dash 4.5's `ctx.shared_storage` is `get_app().shared_storage`: inside a callback,
    `dash.get_app()` must be the app serving it, not the last one created."""
    first = Flash(__name__, shared_storage=flash.LocalSharedStorage(namespace=namespace))
    first.layout = html.Div([html.Button(id="btn"), html.Div(id="out")])

    @first.callback(Output("out", "children"), Input("btn", "n_clicks"))
    async def store(n):
        dash.ctx.shared_storage.set("n", n)
        return "same app" if dash.get_app() is first else "another app"

    Flash(__name__, shared_storage=flash.LocalSharedStorage(namespace=namespace + "-2"))  # created last

    async def go():
        client = first.server.test_client()
        response = await client.post("/_dash-update-component", json=callback_body("out.children", [dep("btn", "n_clicks", 7)]))
        return await response.get_json()

    assert run(go())["response"]["out"]["children"] == "same app"
    assert first.shared_storage.get("n") == 7
    assert ctx is dash.ctx


@pytest.mark.parametrize("storage", [None, "local"])
def test_the_page_config_turns_dashs_stream_transport_off(storage, no_env):
    """Flash's downlink carries every stream: Dash 4.5's renderer must not start its own stream
    client or SharedWorker (`stream.enabled` false, no `worker_url`), with or without storage."""
    app = Flash(__name__, shared_storage=storage)
    app.layout = html.Div(id="root")

    @app.callback(Output("root", "children"), Input("root", "id"))
    async def stream(_):
        yield "one"

    config = _config(app)
    assert config.get("stream", {"enabled": False}) == {"enabled": False}
    assert "dash-stream-worker" not in json.dumps(config)
    deps = run(_dependencies(app))
    assert not any(spec.get("stream") for spec in deps)


async def _dependencies(app):
    client = app.server.test_client()
    await client.get("/")
    return json.loads(await (await client.get("/_dash-dependencies")).get_data())


# --- streaming callbacks registered with dash.callback ------------------------------------------
@DASH45
def test_dash_callback_streams_become_flash_streams_with_their_dependencies():
    from dash import _callback  # this test's own look at Dash's registry, not Flash code

    app = Flash(__name__)
    app.layout = html.Div([html.Button(id="btn"), html.Div(id="out"), html.Div(id="other")])

    def failed(exc):
        return "failed", "too"

    @dash.callback(
        Output("out", "children"),
        Output("other", "children"),
        Input("btn", "n_clicks"),
        dash.State({"type": "f", "i": dash.ALL}, "value"),
        prevent_initial_call=True,
        on_error=failed,
    )
    async def gen(n, values):
        yield "a", "b"

    @dash.callback(Output("other", "title"), Input("btn", "n_clicks"))
    def plain(n):
        return "plain"

    deps = run(_dependencies(app))
    assert not any(spec.get("stream") for spec in deps)
    assert not any(key.startswith("..out.children") for key in app.callback_map)  # not Dash's any more
    assert "other.title" in app.callback_map  # ordinary dash.callback callbacks stay Dash's
    spec = next(s for s in app.streams.values() if s.func is gen)
    assert spec.outputs == [("out", "children"), ("other", "children")] and spec.multi_output
    assert [str(i) for i in spec.inputs] == ["btn.n_clicks"]
    assert spec.states[0].component_id == {"type": "f", "i": dash.ALL}
    assert spec.prevent_initial_call is True and spec.on_error is failed
    assert not _callback.GLOBAL_CALLBACK_MAP and not _callback.GLOBAL_CALLBACK_LIST


@DASH45
def test_running_of_a_dash_callback_stream_is_kept():
    from flash.streaming.declare.adopt import adopt_dash_streams

    @dash.callback(
        Output("out", "children"),
        Input("btn", "n_clicks"),
        running=[(Output("out", "title"), "busy", ""), (Output({"k": "x.y"}, "disabled"), True, False)],
    )
    async def gen(n):
        yield "a"

    [spec] = adopt_dash_streams()
    assert spec.running == [("out", "title", "busy", ""), ({"k": "x.y"}, "disabled", True, False)]


@DASH45
def test_what_flash_streams_do_not_take_is_refused_naming_flash_callback():
    from flash.exceptions import StreamError
    from flash.streaming.declare.adopt import adopt_dash_streams

    @dash.callback(output={"x": Output("out", "children")}, inputs={"n": Input("btn", "n_clicks")})
    async def gen(n):
        yield {"x": "a"}

    with pytest.raises(StreamError, match="flash.callback"):
        adopt_dash_streams()


# --- Dash 4.5's stream options ---------------------------------------------------------------
def test_stream_keepalive_interval_sets_flashs_heartbeat_on_either_dash():
    assert Flash(__name__, stream_keepalive_interval=5000).stream_heartbeat == 5.0
    assert Flash(__name__, stream_keepalive_interval=None).stream_heartbeat == 15.0  # Flash keeps its own
    assert Flash(__name__, stream_heartbeat=3, stream_poll_interval=50).stream_heartbeat == 3
    with pytest.raises(ValueError, match="milliseconds"):
        Flash(__name__, stream_keepalive_interval="5s")


def test_shared_storage_enabled_on_either_dash(no_env):
    assert Flash(__name__, shared_storage="local").shared_storage_enabled
    assert not Flash(__name__).shared_storage_enabled


@DASH45
def test_dashs_redis_backend_is_accepted_saying_streams_need_flashs(no_env, caplog):
    theirs = dash.RedisSharedStorage(url="redis://127.0.0.1:6399/0")  # connects lazily: no server needed
    with caplog.at_level("WARNING", logger="flash.storage"):
        app = Flash(__name__, shared_storage=theirs)
    assert app.shared_storage is theirs and app.stream_runs.bus is None
    assert any("from flash import RedisSharedStorage" in r.getMessage() for r in caplog.records)
