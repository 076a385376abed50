"""Callback dispatch: async on the loop, sync in the pool, ctx and set_props in both."""

import asyncio
import json
import threading

from flash import Flash, Input, Output, State, callback, ctx, html, no_update, set_props
from flash.exceptions import PreventUpdate
from tests.conftest import callback_body, dep, run


def make_app():
    app = Flash(__name__)
    app.layout = html.Div([html.Button(id="btn"), html.Div(id="out"), html.Div(id="side"), html.Div(id="st")])
    return app


async def post(client, body):
    response = await client.post("/_dash-update-component", json=body)
    data = await response.get_data()
    return response.status_code, (json.loads(data) if data else None)


def test_async_callback_runs_on_the_loop_with_ctx_and_set_props():
    app = make_app()
    seen = {}

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"), State("st", "children"))
    async def handler(n, st):
        seen["thread"] = threading.current_thread() is threading.main_thread()
        await asyncio.sleep(0)
        set_props("side", {"children": "from async"})
        return f"{n}-{st}-{ctx.triggered_id}"

    async def go():
        client = app.server.test_client()
        return await post(client, callback_body("out.children", [dep("btn", "n_clicks", 3)], [dep("st", "children", "s")]))

    status, data = run(go())
    assert status == 200
    assert data["response"] == {"out": {"children": "3-s-btn"}}
    assert data["sideUpdate"] == {"side": {"children": "from async"}}
    assert seen["thread"] is True


def test_sync_callback_runs_in_a_worker_thread_with_ctx_and_set_props():
    app = make_app()
    seen = {}

    @callback(Output("out", "children"), Input("btn", "n_clicks"))
    def handler(n):
        seen["thread"] = threading.current_thread().name
        set_props("side", {"children": "from sync"})
        return f"{n}-{ctx.triggered_id}-{ctx.inputs['btn.n_clicks']}"

    async def go():
        client = app.server.test_client()
        return await post(client, callback_body("out.children", [dep("btn", "n_clicks", 2)]))

    status, data = run(go())
    assert status == 200
    assert data["response"] == {"out": {"children": "2-btn-2"}}
    assert data["sideUpdate"] == {"side": {"children": "from sync"}}
    assert seen["thread"] != threading.main_thread().name


def test_sync_callback_does_not_block_an_async_callback():
    """The sync callback waits for an event that only the async callback sets: if sync code ran
    on the event loop, the async callback could never run and the sync one would time out."""
    app = make_app()
    released = threading.Event()
    order = []

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
    def slow_sync(n):
        order.append("sync started")
        released.wait(timeout=5)
        order.append("sync finished" if released.is_set() else "sync timed out")
        return "sync"

    @app.callback(Output("side", "children"), Input("btn", "n_clicks"))
    async def fast_async(n):
        await asyncio.sleep(0.05)
        order.append("async finished")
        released.set()
        return "async"

    async def go():
        client = app.server.test_client()
        return await asyncio.gather(
            post(client, callback_body("out.children", [dep("btn", "n_clicks", 1)])),
            post(client, callback_body("side.children", [dep("btn", "n_clicks", 1)])),
        )

    results = run(go())
    assert [r[0] for r in results] == [200, 200]
    assert order == ["sync started", "async finished", "sync finished"]


def test_200_async_callbacks_run_concurrently():
    """Each callback waits until all 200 have started; serial execution would never get there."""
    app = make_app()
    started = {"n": 0}
    state = {}

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
    async def waits_for_all(n):
        all_started = state.setdefault("event", asyncio.Event())
        started["n"] += 1
        if started["n"] == 200:
            all_started.set()
        await asyncio.wait_for(all_started.wait(), timeout=10)
        await asyncio.sleep(0.1)
        return n

    async def go():
        client = app.server.test_client()
        return await asyncio.gather(
            *(post(client, callback_body("out.children", [dep("btn", "n_clicks", i)])) for i in range(200))
        )

    results = run(go())
    assert [status for status, _ in results] == [200] * 200
    assert sorted(data["response"]["out"]["children"] for _, data in results) == list(range(200))


def test_prevent_update_and_no_update():
    app = make_app()

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
    async def prevent(n):
        raise PreventUpdate

    @app.callback(Output("side", "children"), Output("st", "children"), Input("btn", "n_clicks"))
    def partial(n):
        return no_update, "only this"

    async def go():
        client = app.server.test_client()
        first = await post(client, callback_body("out.children", [dep("btn", "n_clicks", 1)]))
        outputs = [{"id": "side", "property": "children"}, {"id": "st", "property": "children"}]
        second = await post(
            client, callback_body("..side.children...st.children..", [dep("btn", "n_clicks", 1)], outputs=outputs)
        )
        return first, second

    (s1, d1), (s2, d2) = run(go())
    assert s1 == 204 and d1 is None
    assert s2 == 200 and d2["response"] == {"st": {"children": "only this"}}


def test_pattern_matching_all_inputs():
    from flash import ALL

    app = Flash(__name__)
    app.layout = html.Div([html.Div(id={"type": "item", "i": i}) for i in range(3)] + [html.Div(id="sum")])

    @app.callback(Output("sum", "children"), Input({"type": "item", "i": ALL}, "children"))
    async def total(values):
        return f"{sum(values)} from {ctx.triggered_id}"

    items = [dep({"type": "item", "i": i}, "children", i + 1) for i in range(3)]

    async def go():
        client = app.server.test_client()
        body = callback_body("sum.children", [items], changed=['{"i":1,"type":"item"}.children'])
        return await post(client, body)

    status, data = run(go())
    assert status == 200
    assert data["response"]["sum"]["children"] == "6 from {'i': 1, 'type': 'item'}"


def test_request_details_in_ctx_match_the_request():
    app = make_app()

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
    def details(n):
        return {
            "cookie": ctx.cookies.get("session"),
            "header": ctx.headers.get("X-Custom"),
            "arg": ctx.args.get("q"),
            "path": ctx.path,
            "origin": ctx.origin,
        }

    async def go():
        client = app.server.test_client()
        client.set_cookie("localhost", "session", "abc")
        response = await client.post(
            "/_dash-update-component?q=7",
            json=callback_body("out.children", [dep("btn", "n_clicks", 1)]),
            headers={"X-Custom": "yes", "Origin": "http://example.test"},
        )
        return json.loads(await response.get_data())

    data = run(go())
    assert data["response"]["out"]["children"] == {
        "cookie": "abc",
        "header": "yes",
        "arg": "7",
        "path": "/_dash-update-component?q=7",
        "origin": "http://example.test",
    }


def test_callback_can_set_cookies_and_headers_on_the_response():
    app = make_app()

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
    async def cookie_setter(n):
        ctx.response.set_cookie("theme", "dark")
        return "ok"

    async def go():
        client = app.server.test_client()
        response = await client.post("/_dash-update-component", json=callback_body("out.children", [dep("btn", "n_clicks", 1)]))
        return response.headers.get_all("Set-Cookie")

    assert any(c.startswith("theme=dark") for c in run(go()))
