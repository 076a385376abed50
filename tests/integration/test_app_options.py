"""App-level Dash options seen in the browser: hooks, assets, URL prefixes, compression, dev tools."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
from dash import _hooks

from flash import Flash, Input, Output, hooks, html
from flash.testing import FlashComposite

# Loopback requests never go through an HTTP(S)_PROXY from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    """(status, case-insensitive headers, body) of a GET."""
    request = urllib.request.Request(url, headers=headers or {})
    with OPENER.open(request, timeout=5) as response:
        return response.status, response.headers, response.read()


@pytest.fixture
def clean_hooks() -> Iterator[None]:
    """Dash hooks are process-global: put back exactly what was registered before the test."""
    registry = _hooks.hooks
    saved = (
        {k: list(v) for k, v in registry._ns.items()},
        dict(registry._finals),
        list(registry._js_dist),
        list(registry._css_dist),
        list(registry._clientside_callbacks),
    )
    try:
        yield
    finally:
        ns, finals, js, css, clientside = saved
        registry._ns.clear()
        registry._ns.update(ns)
        registry._finals.clear()
        registry._finals.update(finals)
        registry._js_dist[:] = js
        registry._css_dist[:] = css
        registry._clientside_callbacks[:] = clientside


@pytest.mark.browser
def test_dash_hooks_layout_callback_route_and_index(dash_duo_mp: FlashComposite, clean_hooks: None) -> None:
    @hooks.layout()
    def add_banner(layout: Any) -> Any:
        return html.Div(
            [html.Div("banner from hook", id="banner"), html.Button("hook", id="hook-btn"), html.Div(id="hook-out"), layout]
        )

    @hooks.callback(Output("hook-out", "children"), Input("hook-btn", "n_clicks"), prevent_initial_call=True)
    async def hook_callback(n_clicks: int) -> str:
        await asyncio.sleep(0)
        return f"hook callback {n_clicks}"

    @hooks.route(name="hook-sync")
    def hook_sync_route() -> Any:
        return {"from": "sync route hook"}

    @hooks.route(name="hook-async", methods=("GET",))
    async def hook_async_route() -> Any:
        await asyncio.sleep(0)
        return {"from": "async route hook"}

    @hooks.index()
    def mark_index(index: str) -> str:
        return index.replace("<body>", '<body><div id="index-mark">index hook</div>', 1)

    app = Flash(__name__)
    app.layout = html.Div("the app", id="app-body")
    dash_duo_mp.start_server(app)
    dash_duo_mp.wait_for_text_to_equal("#banner", "banner from hook")
    dash_duo_mp.wait_for_text_to_equal("#app-body", "the app")
    assert dash_duo_mp.find_element("#index-mark").text == "index hook"
    dash_duo_mp.find_element("#hook-btn").click()
    dash_duo_mp.wait_for_text_to_equal("#hook-out", "hook callback 1")
    for name, expected in (("hook-sync", "sync route hook"), ("hook-async", "async route hook")):
        status, _, body = _get(dash_duo_mp.url_for(name))
        assert (status, json.loads(body)) == (200, {"from": expected})
    assert dash_duo_mp.get_logs() == []


@pytest.mark.browser
def test_assets_folder_css_and_js_apply(dash_duo_mp: FlashComposite, tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "style.css").write_text("#styled { color: rgb(255, 0, 0); padding-left: 17px; }\n")
    (assets / "marker.js").write_text("window.flashAssetLoaded = 'yes';\n")
    (assets / "data.txt").write_text("plain asset")
    app = Flash(__name__, assets_folder=str(assets))
    app.layout = html.Div("styled text", id="styled")
    dash_duo_mp.start_server(app)
    dash_duo_mp.wait_for_text_to_equal("#styled", "styled text")
    style = dash_duo_mp.driver.execute_script(
        "var s = getComputedStyle(document.getElementById('styled'));return [s.color, s.paddingLeft];"
    )
    assert style == ["rgb(255, 0, 0)", "17px"]
    assert dash_duo_mp.driver.execute_script("return window.flashAssetLoaded;") == "yes"
    assert _get(dash_duo_mp.url_for("/assets/data.txt"))[2] == b"plain asset"
    assert dash_duo_mp.get_logs() == []


def _echo_app(**kwargs: Any) -> Flash:
    app = Flash(__name__, **kwargs)
    app.layout = html.Div([html.Button("go", id="btn"), html.Div("idle", id="out")])

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"), prevent_initial_call=True)
    async def echo(n_clicks: int) -> str:
        return f"clicked {n_clicks}"

    return app


def _resource_paths(duo: FlashComposite) -> list[str]:
    """Paths of everything the page fetched from the app (scripts, CSS, layout, callbacks)."""
    urls = duo.driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name);")
    base = duo.server.url
    return [u[len(base) :] for u in urls if u.startswith(base)]


@pytest.mark.browser
def test_url_base_pathname(dash_duo_mp: FlashComposite) -> None:
    app = _echo_app(url_base_pathname="/my/app/")
    dash_duo_mp.start_server(app, navigate=False)
    dash_duo_mp.server_url = dash_duo_mp.url_for("/my/app/")
    dash_duo_mp.find_element("#btn").click()
    dash_duo_mp.wait_for_text_to_equal("#out", "clicked 1")
    paths = _resource_paths(dash_duo_mp)
    assert paths and all(p.startswith("/my/app/") for p in paths), paths
    assert any(p.startswith("/my/app/_dash-update-component") for p in paths), paths
    assert dash_duo_mp.get_logs() == []


class _BehindProxy:
    """The app as seen through a reverse proxy that forwards only `prefix`, stripping it."""

    def __init__(self, app: Flash, prefix: str) -> None:
        self._app = app
        inner = app.server

        async def proxy(scope: dict, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and not scope["path"].startswith(prefix):
                await send({"type": "http.response.start", "status": 404, "headers": []})
                await send({"type": "http.response.body", "body": b"not behind the proxy"})
                return
            if scope["type"] in ("http", "websocket"):
                path = scope["path"][len(prefix) - 1 :]
                scope = dict(scope, path=path, raw_path=path.encode())
            await inner(scope, receive, send)

        self.server = proxy

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)


@pytest.mark.browser
def test_requests_pathname_prefix_behind_a_stripping_proxy(dash_duo_mp: FlashComposite) -> None:
    app = _echo_app(routes_pathname_prefix="/", requests_pathname_prefix="/proxied/")
    dash_duo_mp.start_server(_BehindProxy(app, "/proxied/"), navigate=False)
    dash_duo_mp.server_url = dash_duo_mp.url_for("/proxied/")
    dash_duo_mp.find_element("#btn").click()
    dash_duo_mp.wait_for_text_to_equal("#out", "clicked 1")
    paths = _resource_paths(dash_duo_mp)
    assert paths and all(p.startswith("/proxied/") for p in paths), paths
    assert any(p.startswith("/proxied/_dash-update-component") for p in paths), paths
    assert dash_duo_mp.get_logs() == []


@pytest.mark.browser
@pytest.mark.parametrize("compress", [True, False])
def test_compress_gzips_what_the_browser_downloads(dash_duo_mp: FlashComposite, compress: bool) -> None:
    app = _echo_app(compress=compress)
    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#btn").click()
    dash_duo_mp.wait_for_text_to_equal("#out", "clicked 1")
    sizes = dash_duo_mp.driver.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('dash_renderer'))"
        ".map(e => [e.encodedBodySize, e.decodedBodySize]);"
    )
    assert sizes, "the renderer bundle was not loaded"
    for encoded, decoded in sizes:
        assert (encoded < decoded) if compress else (encoded == decoded), sizes
    index_headers = _get(dash_duo_mp.url_for("/"), {"Accept-Encoding": "gzip"})[1]
    assert index_headers.get("Content-Encoding") == ("gzip" if compress else None)
    assert dash_duo_mp.get_logs() == []


@pytest.mark.browser
def test_callback_errors_show_in_dev_tools(dash_duo_mp: FlashComposite) -> None:
    app = Flash(__name__)
    app.layout = html.Div(
        [
            html.Button("sync", id="sync-btn"),
            html.Button("async", id="async-btn"),
            html.Div(id="sync-out"),
            html.Div(id="async-out"),
            html.Div(id="fine"),
        ]
    )

    @app.callback(Output("sync-out", "children"), Input("sync-btn", "n_clicks"), prevent_initial_call=True)
    def sync_boom(n_clicks: int) -> str:
        raise ValueError("sync kaboom")

    @app.callback(Output("async-out", "children"), Input("async-btn", "n_clicks"), prevent_initial_call=True)
    async def async_boom(n_clicks: int) -> str:
        await asyncio.sleep(0)
        raise RuntimeError("async kaboom")

    @app.callback(Output("fine", "children"), Input("async-btn", "n_clicks"))
    async def still_fine(n_clicks: int | None) -> str:
        return f"fine {n_clicks or 0}"

    duo = dash_duo_mp
    duo.start_server(app, debug=True, use_reloader=False)
    duo.wait_for_element(".dash-debug-menu__outer")
    duo.find_element("#sync-btn").click()
    duo.wait_for_text_to_equal(duo.devtools_error_count_locator, "1")
    duo.find_element("#async-btn").click()
    duo.wait_for_text_to_equal(duo.devtools_error_count_locator, "2")
    duo.wait_for_text_to_equal("#fine", "fine 1")  # other callbacks keep working

    duo.find_element(".test-devtools-error-toggle").click()  # open the errors pop-up
    titles = duo.wait_for(lambda: [e.text for e in duo.find_elements(".dash-fe-error__title")] or None)
    assert any("sync-out.children" in t for t in titles), titles
    assert any("async-out.children" in t for t in titles), titles

    seen: set[str] = set()

    def tracebacks_shown() -> bool:
        # Each error card expands to show the server's traceback page in an iframe.
        seen.update(e.get_attribute("srcdoc") or "" for e in duo.find_elements(".dash-backend-error iframe"))
        text = " ".join(seen)
        if "ValueError: sync kaboom" in text and "RuntimeError: async kaboom" in text:
            return True
        for item in duo.find_elements(".dash-fe-error-item"):
            item.click()
            seen.update(e.get_attribute("srcdoc") or "" for e in duo.find_elements(".dash-backend-error iframe"))
        return False

    duo.wait_for(tracebacks_shown, timeout=10, msg="both tracebacks in the dev tools pop-up")


def test_dev_tools_callback_graph_shows_the_callbacks(dash_duo_mp: FlashComposite) -> None:
    app = Flash(__name__)
    app.layout = html.Div([html.Button("go", id="go-btn"), html.Div(id="graph-out")])

    @app.callback(Output("graph-out", "children"), Input("go-btn", "n_clicks"))
    async def show(n_clicks: int | None) -> str:
        return f"clicked {n_clicks or 0}"

    duo = dash_duo_mp
    duo.start_server(app, debug=True, use_reloader=False)
    duo.wait_for_text_to_equal("#graph-out", "clicked 0")
    duo.find_element("#dash-debug-menu__callback-graph-button").click()
    duo.wait_for_element(".dash-callback-dag--container canvas")
    # The graph's nodes come from /_dash-dependencies; its side panel names a clicked node, so
    # read the node list cytoscape was given instead (the page keeps it on the container).
    labels = duo.wait_for(
        lambda: duo.driver.execute_script(
            "var el = document.querySelector('.dash-callback-dag--container > div');"
            "var cy = el && el._cyreg && el._cyreg.cy;"
            "return cy && cy.nodes().length ? cy.nodes().map(function (n) {"
            "  return n.id() + ' ' + (n.data('label') || ''); }) : null;"
        )
    )
    assert any("go-btn" in str(label) for label in labels), labels
    assert any("graph-out" in str(label) for label in labels), labels
    assert "callback graph threw an error" not in duo.driver.page_source
