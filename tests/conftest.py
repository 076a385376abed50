"""Shared test helpers: an in-process client for Flash apps (no network, no browser)."""

import asyncio
import gc
import json

import pytest
from dash import _callback, _pages

from flash.streaming.declare import spec as stream_spec

# Fixtures that open Chromium: a test using one is a browser test even without the marker
# (scripts/test's floor and redis-py 8 runs take `-m "not browser"`).
BROWSER_FIXTURES = frozenset({"dash_duo", "dash_duo_mp", "dash_br", "flash_duo", "flash_duo_mp"})


def pytest_configure(config):
    # Dash's own `dash_duo` (used as-is by test_plugin_isolation.py) honours only `--headless`;
    # this suite runs where there is no display. Flash's fixtures decide that by themselves.
    from flash.testing.browser import force_headless

    if force_headless() and hasattr(config.option, "headless"):
        config.option.headless = True


def pytest_collection_modifyitems(items):
    for item in items:
        if BROWSER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def dash_duo_mp(flash_duo_mp):
    """This suite's browser tests were written when Flash's plugin replaced Dash's `dash_duo_mp`;
    it no longer does (it must not change plain Dash tests), so here the name means Flash's."""
    return flash_duo_mp


@pytest.fixture(autouse=True)
def direct_path_as_the_test_needs(request, monkeypatch):
    """Tests marked `direct_path` are about the direct path itself: on, whatever FLASH_DIRECT_PATH
    says (scripts/test's Dash 4.5 run turns it off for everything else)."""
    if request.node.get_closest_marker("direct_path") is not None:
        monkeypatch.setenv("FLASH_DIRECT_PATH", "1")


@pytest.fixture(autouse=True)
def collector_settings_restored():
    """A served app tunes the garbage collector for the whole process (`tune_gc`: gc.freeze() and
    a higher threshold); undone after each test, so frozen heaps do not pile up over the session."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.fixture(autouse=True)
def fresh_global_registries():
    """Module-level @callback/@event_callback/register_page land in globals; start each test clean."""
    _callback.GLOBAL_CALLBACK_LIST.clear()
    _callback.GLOBAL_CALLBACK_MAP.clear()
    _callback.GLOBAL_INLINE_SCRIPTS.clear()
    stream_spec.PENDING_STREAMS.clear()
    _pages.PAGE_REGISTRY.clear()
    yield


def run(coro):
    return asyncio.run(coro)


async def get_json(client, path):
    response = await client.get(path)
    return response.status_code, json.loads(await response.get_data())


def callback_body(output, inputs, state=(), outputs=None, changed=None):
    """The body dash-renderer posts to _dash-update-component."""
    if outputs is None:
        cid, prop = output.split(".", 1)
        outputs = {"id": cid, "property": prop.split("@")[0]}
    return {
        "output": output,
        "outputs": outputs,
        "inputs": list(inputs),
        "state": list(state),
        "changedPropIds": changed if changed is not None else [f"{i['id']}.{i['property']}" for i in inputs[:1]],
    }


def dep(cid, prop, value=None):
    return {"id": cid, "property": prop, "value": value}
