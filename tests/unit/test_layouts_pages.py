"""Layouts and pages: components, sync functions (in a thread) and async functions."""

import asyncio
import json
import threading

import pytest

import flash
from flash import Flash, html, page_container, register_page
from tests.conftest import callback_body, dep, get_json, run


def layout_children(app):
    async def go():
        client = app.server.test_client()
        return await get_json(client, "/_dash-layout")

    status, data = run(go())
    assert status == 200
    return data


def test_component_layout():
    app = Flash(__name__)
    app.layout = html.Div("static", id="root")
    assert layout_children(app)["props"]["children"] == "static"


def test_sync_layout_function_runs_in_a_thread():
    app = Flash(__name__)
    threads = []

    def layout():
        threads.append(threading.current_thread() is threading.main_thread())
        return html.Div("sync", id="root")

    app.layout = layout
    assert layout_children(app)["props"]["children"] == "sync"
    # The first call validates at assignment (as Dash does); serving calls run in the pool.
    assert threads[-1] is False


def test_async_layout_function_is_awaited_on_the_loop():
    app = Flash(__name__)
    calls = []

    async def layout():
        await asyncio.sleep(0)
        calls.append(threading.current_thread() is threading.main_thread())
        return html.Div(f"async {len(calls)}", id="root")

    app.layout = layout
    data = layout_children(app)
    assert data["props"]["children"].startswith("async")
    assert calls and all(calls)


def test_async_layout_with_duplicate_ids_fails_validation_on_first_request():
    app = Flash(__name__)

    async def layout():
        return html.Div([html.Div(id="same"), html.Div(id="same")])

    app.layout = layout

    async def go():
        client = app.server.test_client()
        return (await client.get("/_dash-layout")).status_code

    assert run(go()) == 500


def test_layout_hooks_and_extra_components_apply():
    app = Flash(__name__)
    app.layout = html.Div(id="root")
    app._extra_components.append(html.Div(id="extra"))
    data = layout_children(app)
    ids = [c["props"].get("id") for c in data["props"]["children"]]
    assert ids == ["root", "extra"]


@pytest.fixture
def pages_app():
    app = Flash(__name__, use_pages=True, pages_folder="")

    async def home(**query):
        await asyncio.sleep(0)
        return html.Div(f"home {sorted(query.items())}", id="home")

    def report(report_id=None, **query):
        return html.Div(f"report {report_id} in {threading.current_thread() is threading.main_thread()}")

    async def report_title(report_id=None):
        return f"Report {report_id}"

    register_page("home", path="/", layout=home, title="Home")
    register_page("report", path_template="/report/<report_id>", layout=report, title=report_title)
    app.layout = html.Div([page_container])  # page_container holds the _pages_location Location
    return app


def route(app, pathname, search=""):
    async def go():
        client = app.server.test_client()
        await client.get("/")  # first request installs the router callback
        deps = json.loads(await (await client.get("/_dash-dependencies")).get_data())
        router = next(d for d in deps if "_pages_content.children" in d["output"])
        body = callback_body(
            router["output"],
            [dep("_pages_location", "pathname", pathname), dep("_pages_location", "search", search)],
            outputs=[{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        )
        response = await client.post("/_dash-update-component", json=body)
        return json.loads(await response.get_data())["response"]

    return run(go())


def test_async_page_layout_with_query_string(pages_app):
    response = route(pages_app, "/", "?a=1&b=two")
    assert response["_pages_content"]["children"]["props"]["children"] == "home [('a', '1'), ('b', 'two')]"
    assert response["_pages_store"]["data"] == {"title": "Home"}


def test_sync_page_layout_runs_in_thread_with_path_template_and_async_title(pages_app):
    response = route(pages_app, "/report/42")
    assert response["_pages_content"]["children"]["props"]["children"] == "report 42 in False"
    assert response["_pages_store"]["data"] == {"title": "Report 42"}


def test_unknown_page_is_404_layout(pages_app):
    response = route(pages_app, "/nowhere")
    assert "404" in json.dumps(response["_pages_content"]["children"])


def test_page_registry_is_dash_registry(pages_app):
    assert set(flash.page_registry) == {"home", "report"}


def test_duplicate_page_path_is_reported_once_and_the_app_serves(caplog):
    app = Flash(__name__, use_pages=True, pages_folder="")
    register_page("first", path="/same", layout=html.Div("first"))
    register_page("second", path="/same", layout=html.Div("second"))
    app.layout = html.Div([page_container])

    async def go():
        client = app.server.test_client()
        statuses = [(await client.get("/")).status_code for _ in range(3)]
        layout = (await client.get("/_dash-layout")).status_code
        return statuses, layout

    with caplog.at_level("ERROR"):
        statuses, layout = run(go())
    assert statuses == [500, 200, 200]
    assert layout == 200
    reports = [r for r in caplog.records if "duplicate paths" in (r.exc_text or r.getMessage())]
    assert len(reports) == 1


def counting_async_layout(app, calls):
    async def layout():
        await asyncio.sleep(0)
        calls.append(threading.current_thread() is threading.main_thread())
        return html.Div(f"async {len(calls)}", id="root")

    app.layout = layout
    return layout


def test_get_layout_runs_an_async_layout_and_setup_does_not():
    app = Flash(__name__)
    calls = []
    counting_async_layout(app, calls)
    app._extra_components.append(html.Div(id="extra"))
    before = app.get_layout()  # a script or test: no server loop yet, so a loop of its own
    assert [c.id for c in before.children] == ["root", "extra"]
    assert before.children[0].children == "async 1"
    data = layout_children(app)  # the first request runs Dash's setup, then serves the layout
    assert data["props"]["children"][0]["props"]["children"] == "async 2"
    assert len(calls) == 2  # setup ran no extra copy of the layout
    assert app.get_layout().children[0].children == "async 3"  # current, not a snapshot


def test_get_layout_from_a_sync_callback_runs_on_the_serving_loop_and_async_code_is_told_to_await():
    app = Flash(__name__)
    calls = []
    counting_async_layout(app, calls)
    seen = {}

    @app.callback(flash.Output("out", "children"), flash.Input("btn", "n_clicks"))
    def in_a_thread(n):
        seen["thread"] = app.get_layout().children
        return "ok"

    @app.callback(flash.Output("out2", "children"), flash.Input("btn", "n_clicks"))
    async def on_the_loop(n):
        try:
            app.get_layout()
        except RuntimeError as err:
            seen["error"] = str(err)
        seen["awaited"] = (await app.get_layout_async()).children
        return "ok"

    async def go():
        client = app.server.test_client()
        await client.get("/")
        for out in ("out", "out2"):
            body = callback_body(f"{out}.children", [dep("btn", "n_clicks", 1)])
            assert (await client.post("/_dash-update-component", json=body)).status_code == 200

    run(go())
    assert seen["thread"] == "async 1" and calls == [True, True]  # both on the loop's (main) thread
    assert seen["awaited"] == "async 2"
    assert "await app.get_layout_async()" in seen["error"] and "'layout'" in seen["error"]


def test_layout_hooks_apply_once_to_an_async_layout(monkeypatch):
    from dash._hooks import hooks as dash_hooks

    monkeypatch.setitem(dash_hooks._ns, "layout", list(dash_hooks._ns["layout"]))

    @flash.hooks.layout()
    def wrap(layout):
        return html.Section(layout, id="wrapped")

    app = Flash(__name__)
    counting_async_layout(app, [])
    resolved = app.get_layout()
    assert resolved.id == "wrapped" and resolved.children.id == "root"
    data = layout_children(app)
    assert data["props"]["id"] == "wrapped" and data["props"]["children"]["props"]["id"] == "root"
