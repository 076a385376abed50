"""flash.components: the component classes (props, validation) and their served JS suite."""

import json
import re

import pytest

from flash import Flash, html
from flash.components import LazyLoad, WebSocket, lazy_loader
from flash.components.lazy import LOADERS, MAX_ARGS_BYTES
from tests.conftest import run


async def panel(region: str, year: int = 2024):
    return html.Div(f"{region} {year}")


def test_websocket_props_serialize_as_a_flash_component():
    ws = WebSocket(id="ws", path="/ws/prices", reconnect=False)
    assert ws.to_plotly_json() == {
        "namespace": "flash_components",
        "type": "WebSocket",
        "props": {"id": "ws", "path": "/ws/prices", "reconnect": False},
    }
    assert WebSocket(url="wss://example.com/feed").to_plotly_json()["props"] == {"url": "wss://example.com/feed"}


def test_websocket_refuses_a_missing_or_non_websocket_url():
    with pytest.raises(TypeError, match="url=.*or path="):
        WebSocket(id="ws")
    with pytest.raises(ValueError, match="ws:// or wss://"):
        WebSocket(url="http://example.com/feed")
    with pytest.raises(TypeError):
        WebSocket(path="/ws", bogus=1)


def test_lazyload_registers_its_loader_and_serializes_the_name():
    lazy = LazyLoad(id="north", load=panel, args={"region": "north"}, placeholder=html.P("wait"), root_margin="200px")
    props = lazy.to_plotly_json()["props"]
    assert props["loader"].endswith("test_components.panel")
    assert LOADERS[props["loader"]] is panel
    assert props["args"] == {"region": "north"} and props["status"] == "idle"
    assert props["placeholder"].children == "wait" and props["root_margin"] == "200px"
    assert lazy.to_plotly_json()["type"] == "LazyLoad"


def test_lazyload_gets_an_id_when_none_is_given():
    lazy = LazyLoad(load=panel, args={"region": "x"})
    assert isinstance(lazy.id, str) and lazy.content_id == {"type": "flash-lazy-content", "lazy": lazy.id}


def test_lazyload_content_goes_through_a_clientside_callback_of_the_app():
    """The loaded layout lands in a LazyContent child whose `children` a pattern-matching
    clientside callback sets: dash-renderer runs a new layout's initial callbacks only then."""
    lazy = LazyLoad(id={"kind": "panel", "n": 1}, load=panel, args={"region": "x"})
    assert lazy.children.to_plotly_json() == {
        "namespace": "flash_components",
        "type": "LazyContent",
        "props": {"id": {"type": "flash-lazy-content", "lazy": '{"kind":"panel","n":1}'}},
    }
    app = Flash(__name__)
    app.layout = html.Div(lazy)
    (key,) = [k for k in app.callback_map if "flash-lazy-content" in k]
    assert key.endswith(".children") and app.callback_map[key]["inputs"][0]["property"] == "layout"


def test_lazy_loader_names_and_string_loads():
    @lazy_loader(name="sales-panel")
    async def sales():
        return "sales"

    assert LOADERS["sales-panel"] is sales
    assert LazyLoad(id="s", load="sales-panel").loader == "sales-panel"
    with pytest.raises(ValueError, match="No lazy loader is registered"):
        LazyLoad(id="s", load="not-registered")
    with pytest.raises(ValueError, match="letters, digits"):
        lazy_loader(sales, name="bad name/with slash")


@pytest.mark.parametrize(
    "args,error",
    [
        ({"region": object()}, "JSON values"),
        ({"nope": 1}, "do not match the loader"),
        ({}, "do not match the loader"),  # `region` is required
        ({"region": "x" * MAX_ARGS_BYTES}, "limit"),
        (["region"], "dict of keyword arguments"),
    ],
)
def test_lazyload_args_are_checked_when_the_component_is_built(args, error):
    with pytest.raises((TypeError, ValueError), match=error):
        LazyLoad(id="x", load=panel, args=args)


def test_lazyload_needs_a_loader():
    with pytest.raises(TypeError, match="load="):
        LazyLoad(id="x")
    with pytest.raises(TypeError, match="layout function"):
        LazyLoad(id="x", load=42)


def test_lazyload_children_props_are_declared_for_the_renderer():
    from dash.development.base_component import ComponentRegistry

    assert ComponentRegistry.children_props["flash_components"]["LazyLoad"] == ["placeholder"]


def test_the_suite_is_served_fingerprinted_and_cached():
    app = Flash(__name__)
    app.layout = html.Div([WebSocket(id="ws", path="/ws"), LazyLoad(id="l", load=panel, args={"region": "n"})])

    async def go():
        client = app.server.test_client()
        index = (await (await client.get("/")).get_data()).decode()
        sources = re.findall(r'src="([^"]*flash\.components[^"]*)"', index)
        answers = []
        for src in sources:
            response = await client.get(src)
            answers.append(
                (
                    src,
                    response.status_code,
                    response.headers.get("Cache-Control"),
                    response.content_type,
                    (await response.get_data()).decode(),
                )
            )
        return answers

    answers = run(go())
    names = sorted(re.sub(r"\.v[^.]+\.js$", ".js", src.rsplit("/", 1)[1]) for src, *_ in answers)
    assert names == ["flash-lazy.js", "flash-websocket.js"]
    for src, status, cache, ctype, body in answers:
        assert status == 200 and "immutable" in (cache or ""), src
        assert "javascript" in ctype
        assert "window.flash_components" in body


def test_the_suite_is_fetched_only_when_registered_paths_match():
    app = Flash(__name__)
    app.layout = html.Div("x")

    async def go():
        client = app.server.test_client()
        await client.get("/")
        response = await client.get("/_dash-component-suites/flash.components/lazy_route.py")
        return response.status_code, json.loads(await response.get_data())

    status, body = run(go())
    assert status == 404 and "lazy_route" not in json.dumps(body)
