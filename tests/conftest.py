"""Shared test helpers: an in-process client for Flash apps (no network, no browser)."""
import asyncio
import json

import pytest
from dash import _callback, _pages

from flash.streaming import spec as stream_spec


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
