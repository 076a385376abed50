"""The page cache (flash/server/page_cache.py): the layout, index and dependencies are served from
bytes made once by Dash's/Flash's own views, identical to an uncached serve, with ETag/304, and
each is made again exactly when what it was made from changes."""

import gzip
import re

import dash
import pytest
from dash import _callback_signing

import flash
from flash import Flash, Input, Output, html
from flash.server.direct import DirectPath
from tests.conftest import run

END_ID = re.compile(rb'"end_id":\s*"([^"]+)"')


def make_app(**kwargs):
    app = Flash(__name__, **kwargs)
    app.layout = html.Div([html.Button("go", id="btn"), html.Div(id="out")], id="root")

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
    def show(n):
        return n

    return app


async def fetch(app, path, **headers):
    response = await app.server.test_client().get(path, headers=headers)
    return response, await response.get_data()


def get(app, path, **headers):
    return run(fetch(app, path, **headers))


def uncached(app, slot):
    """What the route's own view (Dash's or Flash's, no cache) answers now."""
    endpoint = (
        app.config.routes_pathname_prefix + {"index": "", "layout": "_dash-layout", "dependencies": "_dash-dependencies"}[slot]
    )
    view = app.server.view_functions[endpoint].__wrapped__

    async def call():
        async with app.server.test_request_context(endpoint):
            result = view()
            response = await result if hasattr(result, "__await__") else result
            return await response.get_data()

    return run(call())


def layout_ids(body):
    import json

    return [c["props"].get("id") for c in json.loads(body)["props"]["children"]]


# --- bytes and headers ---------------------------------------------------------------------------
def test_each_page_route_serves_the_bytes_of_an_uncached_serve_and_is_kept():
    app = make_app()
    for path, slot in (("/_dash-layout", "layout"), ("/_dash-dependencies", "dependencies")):
        response, body = get(app, path)
        assert response.status_code == 200 and response.headers["ETag"]
        assert body == uncached(app, slot)
        assert app.page_cache.entries[slot].parts == (body,)
    _, page = get(app, "/")
    assert END_ID.sub(b"", page) == END_ID.sub(b"", uncached(app, "index"))
    assert len(app.page_cache.entries["index"].parts) == 2


def test_matching_if_none_match_is_a_304_without_body_and_others_a_200():
    app = make_app()
    for path in ("/_dash-layout", "/_dash-dependencies", "/"):
        first, body = get(app, path)
        etag = first.headers["ETag"]
        again, empty = get(app, path, **{"If-None-Match": etag})
        assert again.status_code == 304 and empty == b"" and again.headers["ETag"] == etag
        listed, _ = get(app, path, **{"If-None-Match": f'"other", {etag}'})
        assert listed.status_code == 304
        other, full = get(app, path, **{"If-None-Match": '"something-else"'})
        assert other.status_code == 200 and len(full) == len(body)


def test_every_page_load_gets_its_own_end_id_signed_as_dash_signs_it():
    app = make_app()
    tokens = {END_ID.search(get(app, "/")[1]).group(1).decode() for _ in range(3)}
    assert len(tokens) == 3
    secret = app._get_signing_secret()
    assert all(_callback_signing.unsign(secret, _callback_signing.END_SCOPE, t) for t in tokens)
    response, _ = get(app, "/")
    assert response.headers["ETag"].startswith('W/"') and "private" in response.headers["Cache-Control"]


def test_gzip_variant_is_made_once_and_decompresses_to_the_body():
    app = make_app(compress=True)
    app.layout = html.Div([html.P(f"row {i}", id=f"p{i}") for i in range(100)])
    plain, body = get(app, "/_dash-layout")
    assert "Content-Encoding" not in plain.headers
    zipped, data = get(app, "/_dash-layout", **{"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and gzip.decompress(data) == body
    entry = app.page_cache.entries["layout"]
    made = entry._gzip
    get(app, "/_dash-layout", **{"Accept-Encoding": "gzip"})
    assert entry._gzip is made and made is not None
    assert "Accept-Encoding" in zipped.headers["Vary"]


# --- layout invalidation -------------------------------------------------------------------------
def test_reassigning_the_layout_serves_the_new_one():
    app = make_app()
    _, first = get(app, "/_dash-layout")
    app.layout = html.Div([html.Span(id="new")], id="root")
    _, second = get(app, "/_dash-layout")
    assert layout_ids(second) == ["new"] and second == uncached(app, "layout") and second != first


def test_a_layout_changed_in_place_is_published_by_assigning_it_again():
    app = make_app()
    get(app, "/_dash-layout")
    app.layout.children.append(html.Span(id="added"))
    assert "added" not in layout_ids(get(app, "/_dash-layout")[1])  # documented: kept as first served
    app.layout = app.layout
    assert layout_ids(get(app, "/_dash-layout")[1])[-1] == "added"


def test_a_layout_function_runs_on_every_request():
    app = make_app()
    calls = []

    def layout():
        calls.append(1)
        return html.Div(str(len(calls)), id="root")

    app.layout = layout
    bodies = {get(app, "/_dash-layout")[1] for _ in range(3)}
    assert len(bodies) == 3  # each request called it (Dash's first-request setup calls it too)
    assert "layout" not in app.page_cache.entries


def test_new_extra_components_are_served():
    app = make_app()
    get(app, "/_dash-layout")
    app._extra_components.append(html.Div(id="extra"))
    assert layout_ids(get(app, "/_dash-layout")[1]) == ["root", "extra"]


def test_a_layout_hook_turns_the_layout_cache_off(monkeypatch):
    from dash._hooks import hooks as dash_hooks

    monkeypatch.setitem(dash_hooks._ns, "layout", list(dash_hooks._ns["layout"]))
    seen = []

    @flash.hooks.layout()
    def wrap(layout):
        seen.append(1)
        return html.Section(layout, id=f"wrapped-{len(seen)}")

    app = make_app()
    a, b = get(app, "/_dash-layout")[1], get(app, "/_dash-layout")[1]
    assert a != b and "layout" not in app.page_cache.entries


def test_hot_reload_makes_the_layout_and_index_again():
    app = make_app()
    get(app, "/_dash-layout")
    get(app, "/")
    layout, index = app.page_cache.entries["layout"], app.page_cache.entries["index"]
    app._hot_reload.hash = "changed"  # what Dash's watcher does when a file changes
    get(app, "/_dash-layout")
    get(app, "/")
    assert app.page_cache.entries["layout"] is not layout and app.page_cache.entries["index"] is not index


# --- index invalidation --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "change",
    [
        lambda app: setattr(app, "title", "A new title"),
        lambda app: setattr(app, "index_string", app.index_string.replace("<head>", "<head><!-- new -->")),
        lambda app: setattr(app.config, "update_title", "Working..."),
        lambda app: app.config.external_scripts.append("https://example.com/new.js"),
        lambda app: app.config.meta_tags.append({"name": "new-meta", "content": "x"}),
        lambda app: app.scripts.append_script({"external_url": "https://example.com/more.js"}),
        lambda app: app.css.append_css({"external_url": "https://example.com/more.css"}),
        lambda app: app.clientside_callback("function(n) { return n; }", Output("out", "title"), Input("btn", "n_clicks")),
    ],
    ids=["title", "index_string", "config", "external_scripts", "meta_tags", "scripts", "css", "inline_script"],
)
def test_the_index_is_made_again_when_what_it_shows_changes(change):
    app = make_app(serve_locally=False)  # (so that added external scripts are listed)
    _, before = get(app, "/")
    change(app)
    _, after = get(app, "/")
    assert END_ID.sub(b"", after) != END_ID.sub(b"", before)
    assert END_ID.sub(b"", after) == END_ID.sub(b"", uncached(app, "index"))
    _, again = get(app, "/")  # made again, the page still gets a new end_id on every load
    assert END_ID.search(again).group(1) != END_ID.search(after).group(1)


def test_an_index_hook_turns_the_index_cache_off(monkeypatch):
    from dash._hooks import hooks as dash_hooks

    monkeypatch.setitem(dash_hooks._ns, "index", list(dash_hooks._ns["index"]))
    seen = []

    @flash.hooks.index()
    def stamp(index):
        seen.append(1)
        return index.replace("</body>", f"<!-- {len(seen)} --></body>")

    app = make_app()
    a, b = get(app, "/")[1], get(app, "/")[1]
    assert b"<!-- " in a and END_ID.sub(b"", a) != END_ID.sub(b"", b)
    assert "index" not in app.page_cache.entries


def test_a_pages_app_with_page_meta_tags_builds_its_index_per_request():
    app = Flash(__name__, use_pages=True, pages_folder="")
    dash.register_page("cached_home", path="/", layout=html.Div("home"), title="Home page", description="home")
    dash.register_page("cached_other", path="/other", layout=html.Div("other"), title="Other page")
    try:
        app.layout = html.Div([flash.page_container])
        home, other = get(app, "/")[1], get(app, "/other")[1]
        assert b"Home page" in home and b"Other page" in other
        assert "index" not in app.page_cache.entries
        app.config.include_pages_meta = False  # nothing in the page follows the URL: cached
        get(app, "/other")
        assert "index" in app.page_cache.entries
    finally:
        for module in ("cached_home", "cached_other"):
            dash.page_registry.pop(module, None)


def test_a_subclass_that_overrides_interpolate_index_is_served_per_request():
    class Custom(Flash):
        served = 0

        def interpolate_index(self, **kwargs):
            Custom.served += 1
            return super().interpolate_index(**kwargs).replace("</body>", f"<!--{Custom.served}--></body>")

    app = Custom(__name__)
    app.layout = html.Div(id="root")
    a, b = get(app, "/")[1], get(app, "/")[1]
    assert END_ID.sub(b"", a) != END_ID.sub(b"", b) and "index" not in app.page_cache.entries


# --- dependencies --------------------------------------------------------------------------------
def test_a_callback_added_after_the_first_load_is_in_the_dependencies():
    app = make_app()
    _, before = get(app, "/_dash-dependencies")

    @app.callback(Output("out", "className"), Input("btn", "n_clicks"))
    def late(n):
        return "x"

    _, after = get(app, "/_dash-dependencies")
    assert b"out.className" in after and b"out.className" not in before
    assert after == uncached(app, "dependencies")


# --- the direct path -----------------------------------------------------------------------------
@pytest.mark.direct_path
@pytest.mark.parametrize("compress", [False, True])
def test_cached_pages_take_the_direct_path_and_hooks_turn_it_off(compress):
    app = make_app(compress=compress)  # Flash's own gzip hook does not turn it off: the cache gzips
    direct = app.server.asgi_app
    assert isinstance(direct, DirectPath)
    inner_calls = []
    inner = direct.inner

    async def counting(scope, receive, send):
        inner_calls.append(scope["path"])
        await inner(scope, receive, send)

    direct.inner = counting
    for path in ("/", "/_dash-layout", "/_dash-dependencies"):
        get(app, path)  # made by Quart, then kept
    made = len(inner_calls)
    for path in ("/", "/_dash-layout", "/_dash-dependencies"):
        response, body = get(app, path, **{"Accept-Encoding": "gzip"})
        assert response.status_code == 200 and body
        gzipped = response.headers.get("Content-Encoding") == "gzip"
        size = len(gzip.decompress(body) if gzipped else body)  # the threshold is on what is sent uncompressed
        assert gzipped == (compress and size >= 500)
    assert len(inner_calls) == made  # none reached Quart

    hooked = []
    app.server.before_request(lambda: hooked.append(1))
    get(app, "/_dash-layout")
    assert len(inner_calls) == made + 1 and hooked == [1]  # a hook sees every page request


def test_a_per_request_index_keeps_its_renderer_config_and_follows_config_changes():
    app = Flash(__name__, use_pages=True, pages_folder="")
    dash.register_page("config_home", path="/", layout=html.Div("home"), title="Home page")
    try:
        app.layout = html.Div([flash.page_container])
        first = get(app, "/")[1]
        kept = app.page_cache.config_html
        second = get(app, "/")[1]
        assert kept is not None and app.page_cache.config_html is kept  # made once
        ids = [END_ID.search(page).group(1).decode() for page in (first, second)]
        secret = app._get_signing_secret()
        assert ids[0] != ids[1] and all(_callback_signing.unsign(secret, _callback_signing.END_SCOPE, i) for i in ids)
        assert END_ID.sub(b"", second) == END_ID.sub(b"", uncached(app, "index"))
        app.config.update_title = "Working hard..."
        assert b"Working hard..." in get(app, "/")[1] and app.page_cache.config_html is not kept
    finally:
        dash.page_registry.pop("config_home", None)
