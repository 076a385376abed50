"""Shared storage (Dash 4.5's API): the contract on the Local and Diskcache backends, the Local
backend's owner election across real processes, configuration (argument, URL, env), and
`app.shared_storage` / `ctx.shared_storage` inside callbacks and event callbacks."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import pytest

import flash
from flash import (
    DiskcacheSharedStorage,
    Flash,
    Input,
    LocalSharedStorage,
    Output,
    RedisSharedStorage,
    SharedStorageError,
    State,
    ctx,
    html,
    stream_props,
)
from flash.storage import config
from flash.testing import wait_for
from tests.conftest import callback_body, dep, run
from tests.storage_contract import REPO, StorageContract, take
from tests.streaming.downlink_client import Downlink, make_app, props_values, setup


@pytest.fixture
def namespace():
    return f"test-{uuid.uuid4().hex[:12]}"


class TestLocalSharedStorage(StorageContract):
    @pytest.fixture
    def storage(self, namespace):
        backend = LocalSharedStorage(namespace=namespace)
        yield backend
        backend.close()

    @pytest.fixture
    def small_storage(self, namespace):
        backend = LocalSharedStorage(namespace=namespace + "-small", buffer_size=5)
        yield backend
        backend.close()

    @pytest.fixture
    def storage_code(self, namespace):
        return f"storage = LocalSharedStorage(namespace={namespace!r})"


class TestDiskcacheSharedStorage(StorageContract):
    @pytest.fixture
    def storage(self, tmp_path):
        backend = DiskcacheSharedStorage(directory=tmp_path / "ss")
        yield backend
        backend.close()

    @pytest.fixture
    def small_storage(self, tmp_path):
        backend = DiskcacheSharedStorage(directory=tmp_path / "small", buffer_size=5)
        yield backend
        backend.close()

    @pytest.fixture
    def storage_code(self, tmp_path):
        return f"storage = DiskcacheSharedStorage(directory={str(tmp_path / 'ss')!r})"


def test_diskcache_takes_a_cache_first_as_dash_45_does(tmp_path):
    """Dash 4.5's DiskcacheSharedStorage(cache, directory=None, ...): a Cache given first is the
    cache (Flash's own order, directory first, keeps working)."""
    import diskcache

    cache = diskcache.Cache(str(tmp_path / "shared"))
    for backend in (
        DiskcacheSharedStorage(cache),
        DiskcacheSharedStorage(cache, str(tmp_path / "x")),
        DiskcacheSharedStorage(cache=cache),
    ):
        assert backend.cache is cache
    assert DiskcacheSharedStorage(tmp_path / "own").cache.directory == str(tmp_path / "own")
    cache.close()


# --- the Local backend's owner election -------------------------------------------------
OWNER_CHILD = """
import sys
from flash import LocalSharedStorage
storage = LocalSharedStorage(namespace=sys.argv[1])
storage.set("owner", "child")
print("owner" if storage.is_owner else "client", flush=True)
sys.stdin.read()  # hold the store until the test closes stdin or kills us
"""


def _owner_child(namespace: str) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", OWNER_CHILD, namespace], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    assert child.stdout.readline().strip() == "owner"
    return child


def test_local_workers_share_one_owner_and_a_survivor_takes_over(namespace):
    child = _owner_child(namespace)
    storage = LocalSharedStorage(namespace=namespace)
    try:
        assert storage.get("owner") == "child"  # read from the other process's memory
        assert not storage.is_owner
        sub = storage.subscribe("t")
        waiting = storage.subscribe("t")
        storage.set("by-client", 1)
        storage.publish("t", "via owner")
        assert take(sub, 1) == [(1, "via owner")]
        assert sub.closed  # leaving the loop closes it (as in Dash)
        child.kill()
        child.wait(10)
        # The owner died: the next operation re-elects this process, with a cold store.
        assert storage.get("owner", "lost") == "lost"
        assert storage.is_owner
        storage.set("after", 2)
        assert storage.get("after") == 2
        with pytest.raises(flash.SharedStorageGap):
            take(waiting, 2)  # it was reading from the dead owner
    finally:
        child.kill()
        storage.close()


def test_local_namespaces_do_not_share(namespace):
    one, two = LocalSharedStorage(namespace=namespace + "-1"), LocalSharedStorage(namespace=namespace + "-2")
    try:
        one.set("k", "one")
        assert two.get("k") is None
    finally:
        one.close()
        two.close()


def test_local_client_async_subscription_gets_live_messages(namespace):
    child = _owner_child(namespace)
    storage = LocalSharedStorage(namespace=namespace)

    async def go():
        sub = await storage.asubscribe("live")
        reader = asyncio.ensure_future(_first(sub))
        await asyncio.sleep(0.05)
        await storage.apublish("live", "hello")
        return await asyncio.wait_for(reader, 10)

    try:
        assert run(go()) == "hello"
    finally:
        child.kill()
        storage.close()


async def _first(sub):
    async for message in sub:
        sub.close()
        return message


# --- configuration ----------------------------------------------------------------------
@pytest.fixture
def no_env(monkeypatch):
    for name in config.ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_shared_storage_is_off_by_default(no_env):
    app = Flash(__name__)
    with pytest.raises(SharedStorageError, match="shared storage is off"):
        app.shared_storage  # noqa: B018


@pytest.mark.parametrize(
    "spec, kind",
    [
        ("local", LocalSharedStorage),
        ("none", type(None)),
        ("diskcache:///tmp/flash-ss-cfg", DiskcacheSharedStorage),
        ("redis://127.0.0.1:6399/2", RedisSharedStorage),
        ("rediss://h:6380/0", RedisSharedStorage),
    ],
)
def test_urls_pick_a_backend(spec, kind):
    backend = config.from_url(spec)
    assert type(backend) is kind
    if kind is RedisSharedStorage:
        assert backend.url == spec


@pytest.mark.parametrize("spec", ["memcached://x", "diskcache://relative/path", "bogus"])
def test_bad_urls_are_refused(spec):
    with pytest.raises(ValueError):
        config.from_url(spec)


def test_env_turns_it_on_and_flash_spelling_wins(no_env):
    no_env.setenv("DASH_SHARED_STORAGE", "redis://127.0.0.1:6399/0")
    assert isinstance(Flash(__name__)._shared_storage_backend, RedisSharedStorage)
    no_env.setenv("FLASH_SHARED_STORAGE", "local")
    assert isinstance(Flash(__name__).shared_storage, LocalSharedStorage)
    assert Flash(__name__, shared_storage=None)._shared_storage_backend is None  # explicit None: off


def test_argument_takes_an_instance_a_class_or_a_url(no_env, namespace):
    backend = LocalSharedStorage(namespace=namespace)
    assert Flash(__name__, shared_storage=backend).shared_storage is backend
    assert isinstance(Flash(__name__, shared_storage=LocalSharedStorage).shared_storage, LocalSharedStorage)
    assert isinstance(Flash(__name__, shared_storage="redis://127.0.0.1:6399/0").shared_storage, RedisSharedStorage)
    with pytest.raises(TypeError):
        Flash(__name__, shared_storage=42)


# --- app.shared_storage and ctx.shared_storage in callbacks ---------------------------------
def _app(storage):
    app = Flash(__name__, shared_storage=storage)
    app.layout = html.Div([html.Button(id="btn"), html.Div(id="out")])
    return app


async def _post(app, n):
    client = app.server.test_client()
    response = await client.post("/_dash-update-component", json=callback_body("out.children", [dep("btn", "n_clicks", n)]))
    return response.status_code, await response.get_json()


def test_ctx_shared_storage_in_sync_and_async_callbacks(namespace, no_env):
    storage = LocalSharedStorage(namespace=namespace)
    app = _app(storage)

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
    def sync_cb(n):
        ctx.shared_storage.set("clicks", n)
        return f"stored {ctx.shared_storage.get('clicks')}"

    other = _app(LocalSharedStorage(namespace=namespace + "-async"))

    @other.callback(Output("out", "children"), Input("btn", "n_clicks"))
    async def async_cb(n):
        await ctx.shared_storage.aset("clicks", n * 10, ttl=60)
        return f"stored {await ctx.shared_storage.aget('clicks')}"

    assert run(_post(app, 3)) == (200, {"multi": True, "response": {"out": {"children": "stored 3"}}})
    assert run(_post(other, 4)) == (200, {"multi": True, "response": {"out": {"children": "stored 40"}}})
    assert app.shared_storage.get("clicks") == 3  # each app its own storage
    assert other.shared_storage.get("clicks") == 40
    assert flash.ctx is flash.callback_context  # the very dash.ctx object carries the property


def test_ctx_shared_storage_when_off_is_a_clear_error(no_env):
    app = _app(None)

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
    def cb(n):
        try:
            ctx.shared_storage.get("x")
        except SharedStorageError as exc:
            return str(exc)
        return "no error"

    status, body = run(_post(app, 1))
    assert status == 200 and body["response"]["out"]["children"].startswith("shared storage is off")


def test_ctx_shared_storage_in_an_event_callback(namespace, no_env):
    app = make_app(shared_storage=LocalSharedStorage(namespace=namespace))
    app.shared_storage.publish("news", "first")
    app.shared_storage.publish("news", "second")

    @app.event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def relay(n, rows):
        await ctx.shared_storage.aset("relay-ran", n)
        async with ctx.shared_storage.subscribe("news", replay_from=0) as sub:
            async for seq, message in sub.aiter_with_seq():
                yield stream_props("out", {"children": f"{seq}:{message}"})
                if seq == 2:
                    break

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            handle = await downlink.start(relay.stream_id, rows=0)
            return await downlink.finished(handle)

    messages = run(go())
    assert props_values(messages) == ["1:first", "2:second"]
    assert app.shared_storage.get("relay-ran") == 1


def test_private_dash_name_used_for_ctx_is_still_there():
    from dash import _callback_context

    assert isinstance(_callback_context.context_value.get(None), (dict, type(None)))
    wait_for(lambda: hasattr(type(flash.ctx), "shared_storage"), timeout=1)
