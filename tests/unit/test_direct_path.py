"""The direct ASGI path for callback requests: taken only when nothing would notice, and then
`quart.request`, `current_app`, `g`, `ctx`, cookies, error handlers and body limits work as in Quart."""

import asyncio
import json

import pytest
from quart import after_this_request, current_app, g, request, url_for
from quart.globals import _cv_request
from quart.signals import request_started

from flash import Flash, Input, Output, ctx, html
from flash.exceptions import PreventUpdate
from flash.server.deferred import body_deadlines, request_path
from flash.server.direct import DirectPath
from tests.conftest import callback_body, dep, run

BODY = callback_body("out.children", [dep("btn", "n_clicks", 1)])

pytestmark = pytest.mark.direct_path  # about the direct path itself: on whatever FLASH_DIRECT_PATH says


def make_app(handler=None, **kwargs):
    app = Flash(__name__, **kwargs)
    app.layout = html.Div([html.Button(id="btn"), html.Div(id="out")])
    seen = []

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
    async def show(n):
        seen.append(type(_cv_request.get()).__name__)
        if handler is not None:
            return await handler(n)
        return f"clicked {n}"

    return app, seen


async def post(client, body=BODY, path="/_dash-update-component", **kwargs):
    response = (
        await client.post(path, json=body, **kwargs)
        if not isinstance(body, bytes)
        else await client.post(path, data=body, headers={"Content-Type": "application/json"}, **kwargs)
    )
    data = await response.get_data()
    return response, (json.loads(data) if data else None)


async def twice(app, **kwargs):
    """The first request runs Dash's setup through Quart; the second may take the direct path."""
    client = app.server.test_client()
    await post(client, **kwargs)
    return await post(client, **kwargs)


def test_callback_requests_take_the_direct_path_once_dash_is_set_up():
    app, seen = make_app()
    response, data = run(twice(app))
    assert isinstance(app.server.asgi_app, DirectPath)
    assert seen == ["RequestContext", "DeferredRequestContext"]
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert data["response"] == {"out": {"children": "clicked 1"}}


def test_request_app_globals_and_ctx_work_on_the_direct_path():
    async def handler(n):
        g.note = "kept"

        @after_this_request
        async def tag(response):
            response.headers["X-After"] = "yes"
            return response

        ctx.response.set_cookie("flavour", "oat")
        return "|".join(
            [
                request.headers["X-Probe"],
                request.args["q"],
                request.path,
                request.method,
                current_app.name,
                g.note,
                url_for("/_dash-layout"),
                ctx.cookies.get("session-ish", ""),
                ctx.headers.get("X-Probe", ""),
                str(ctx.triggered_id),
                ctx.path,
            ]
        )

    app, seen = make_app(handler)

    async def go():
        client = app.server.test_client()
        client.set_cookie("localhost", "session-ish", "c1")
        await post(client)
        return await post(client, path="/_dash-update-component?q=7", headers={"X-Probe": "p"})

    response, data = run(go())
    assert seen[-1] == "DeferredRequestContext"
    assert data["response"]["out"]["children"] == (
        f"p|7|/_dash-update-component|POST|{app.server.name}|kept|/_dash-layout|c1|p|btn|/_dash-update-component?q=7"
    )
    assert response.headers["X-After"] == "yes"
    assert "flavour=oat" in response.headers["Set-Cookie"]


def test_sync_callbacks_see_the_request_on_the_direct_path():
    app = Flash(__name__)
    app.layout = html.Div([html.Button(id="btn"), html.Div(id="out")])

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
    def show(n):
        return f"{type(_cv_request.get()).__name__} {request.headers.get('X-Probe')}"

    response, data = run(twice(app, headers={"X-Probe": "sync"}))
    assert data["response"]["out"]["children"] == "DeferredRequestContext sync"


def _before(app, log):
    @app.server.before_request
    async def hook():
        log.append("before")


def _after(app, log):
    @app.server.after_request
    async def hook(response):
        log.append("after")
        return response


def _teardown(app, log):
    @app.server.teardown_request
    async def hook(exc):
        log.append("teardown")


def _signal(app, log):
    async def receiver(sender, **extra):
        log.append("signal")

    request_started.connect(receiver, app.server)
    app._test_receiver = receiver  # keep the weak reference alive


def _secret(app, log):
    app.server.secret_key = "s3cret"
    log.append("secret")


def _wrapped_view(app, log):
    endpoint = "/_dash-update-component"
    original = app.server.view_functions[endpoint]

    async def guarded():
        log.append("wrapped")
        return await original()

    app.server.view_functions[endpoint] = guarded


@pytest.mark.parametrize("register", [_before, _after, _teardown, _signal, _secret, _wrapped_view])
def test_anything_registered_on_the_server_sends_callbacks_through_quart(register):
    app, seen = make_app()
    log = []
    register(app, log)
    try:
        response, data = run(twice(app))
    finally:
        request_started.receivers.clear()
    assert seen == ["RequestContext", "RequestContext"]
    assert len(log) >= 2 or log == ["secret"]
    assert data["response"] == {"out": {"children": "clicked 1"}}


def test_debug_dev_tools_hooks_keep_quart_in_charge():
    app, seen = make_app()
    app.enable_dev_tools(debug=True)
    run(twice(app))
    assert seen == ["RequestContext", "RequestContext"]


def test_errors_on_the_direct_path_are_the_same_json_answers():
    class Refused(Exception):
        pass

    async def handler(n):
        if n == 1:
            raise PreventUpdate
        if n == 2:
            raise Refused("no")
        raise RuntimeError("secret detail")

    app, seen = make_app(handler)

    @app.server.errorhandler(Refused)
    async def refused(err):
        return {"refused": str(err)}, 409

    async def go():
        client = app.server.test_client()
        await post(client, b"{}")  # setup through Quart (a 400)
        results = {}
        for n in (1, 2, 3):
            results[n] = await post(client, callback_body("out.children", [dep("btn", "n_clicks", n)]))
        results["bad"] = await post(client, b"{not json")
        results["unknown"] = await post(client, callback_body("nope.children", [dep("btn", "n_clicks", 1)]))
        return results

    results = run(go())
    assert seen == ["DeferredRequestContext"] * 3
    assert results[1][0].status_code == 204
    assert (results[2][0].status_code, results[2][1]) == (409, {"refused": "no"})
    assert results[3][0].status_code == 500
    assert results[3][1] == {"error": "Internal server error.", "status": 500}
    assert results["bad"][0].status_code == 400 and "not valid JSON" in results["bad"][1]["error"]
    assert results["unknown"][0].status_code == 400 and "Unknown callback output" in results["unknown"][1]["error"]
    assert "nope.children" not in str(results["unknown"][1]), "error bodies do not echo the request"


# --- raw ASGI: bodies in pieces, limits, timeouts, disconnects, root paths ------------------------


async def asgi_post(server, messages, path="/_dash-update-component", headers=(), root_path="", then="wait"):
    """Call the ASGI app once; after `messages`, receive() waits for the answer (as a server does),
    stalls forever (`then="stall"`) or reports a disconnect (`then="disconnect"`)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": root_path + path,
        "raw_path": (root_path + path).encode(),
        "query_string": b"",
        "root_path": root_path,
        "headers": [(b"host", b"localhost"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "extensions": {},
    }
    pending = list(messages)
    sent = []
    answered = asyncio.Event()

    async def receive():
        if pending:
            return pending.pop(0)
        if then == "stall":
            await asyncio.sleep(3600)
        elif then == "wait":
            await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    await server(scope, receive, send)
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), None)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    is_json = any(m["type"] == "http.response.start" and (b"content-type", b"application/json") in m["headers"] for m in sent)
    return status, (json.loads(body) if is_json else body or None)


def _pieces(data, size):
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    return [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]


def test_a_body_in_pieces_is_joined_and_limits_hold_without_content_length():
    app, seen = make_app(max_request_size=2000)
    data = json.dumps(BODY).encode()

    async def go():
        await asgi_post(app.server, _pieces(data, 10**6))  # setup
        ok = await asgi_post(app.server, _pieces(data, 7))
        big = await asgi_post(app.server, _pieces(data + b" " * 3000, 500))
        declared = await asgi_post(app.server, _pieces(data, 100), headers=[(b"content-length", b"999999")])
        gone = await asgi_post(app.server, _pieces(data, 10)[:2], then="disconnect")
        return ok, big, declared, gone, body_deadlines()

    ok, big, declared, gone, deadlines = run(go())
    assert gone == (None, None)
    assert not deadlines._reads and not deadlines._expired  # refused and abandoned reads are not watched
    assert seen[-1] == "DeferredRequestContext"
    assert ok == (200, {"multi": True, "response": {"out": {"children": "clicked 1"}}})
    for status, payload in (big, declared):
        assert status == 413 and "2000-byte limit" in payload["error"]


def test_a_stalled_body_times_out_with_408_and_a_vanished_client_gets_nothing():
    app, seen = make_app()
    app.server.config["BODY_TIMEOUT"] = 0.05
    data = json.dumps(BODY).encode()

    async def go():
        await asgi_post(app.server, _pieces(data, 10**6))
        stalled = await asgi_post(app.server, _pieces(data, 10)[:2], then="stall")
        gone = await asgi_post(app.server, _pieces(data, 10)[:2], then="disconnect")
        return stalled, gone

    stalled, gone = run(go())
    assert stalled[0] == 408 and stalled[1]["status"] == 408
    assert gone == (None, None)
    assert seen == ["RequestContext"]


def test_concurrent_stalled_bodies_each_time_out_while_others_are_answered():
    app, seen = make_app()
    app.server.config["BODY_TIMEOUT"] = 0.3
    data = json.dumps(BODY).encode()

    async def go():
        await asgi_post(app.server, _pieces(data, 10**6))
        stalled = [asyncio.ensure_future(asgi_post(app.server, _pieces(data, 10)[:2], then="stall")) for _ in range(3)]
        await asyncio.sleep(0.05)
        answered = await asgi_post(app.server, _pieces(data, 10**6))  # its read is never overdue
        pending_before_deadline = [not task.done() for task in stalled]
        results = await asyncio.gather(*stalled)
        return answered, pending_before_deadline, results, body_deadlines()

    answered, pending_before_deadline, results, deadlines = run(go())
    assert answered == (200, {"multi": True, "response": {"out": {"children": "clicked 1"}}})
    assert pending_before_deadline == [True, True, True]  # no read is cut short of its deadline
    assert [status for status, _ in results] == [408, 408, 408]
    assert not deadlines._reads and not deadlines._expired and deadlines._timer is None  # nothing left behind


def test_prefixes_and_root_paths_route_like_quart():
    app, seen = make_app(url_base_pathname="/app/")
    data = json.dumps(BODY).encode()

    async def go():
        first = await asgi_post(app.server, _pieces(data, 10**6), path="/app/_dash-update-component")
        second = await asgi_post(app.server, _pieces(data, 10**6), path="/app/_dash-update-component", root_path="/mount")
        elsewhere = await asgi_post(app.server, _pieces(data, 10**6), path="/_dash-update-component")
        return first, second, elsewhere

    first, second, elsewhere = run(go())
    assert first[0] == second[0] == 200
    assert seen == ["RequestContext", "DeferredRequestContext"]
    assert elsewhere[0] == 404
    assert request_path({"path": "/mount", "root_path": "/mount"}) == " "
    assert request_path({"path": "/x/y", "root_path": ""}) == "/x/y"


def test_both_paths_give_the_same_answer_and_headers():
    async def handler(n):
        if n == 2:
            ctx.response.set_header("X-Extra", "1")
        return f"clicked {n}"

    app, seen = make_app(handler)

    async def go():
        client = app.server.test_client()
        answers = []
        for n in (1, 1, 2):
            response, data = await post(client, callback_body("out.children", [dep("btn", "n_clicks", n)]))
            answers.append((response.status_code, data, sorted(response.headers.items())))
        return answers

    through_quart, direct, with_header = run(go())
    assert seen == ["RequestContext", "DeferredRequestContext", "DeferredRequestContext"]
    assert through_quart == direct
    assert [k.lower() for k, _ in direct[2]] == ["content-length", "content-type"]
    assert ("x-extra", "1") in [(k.lower(), v) for k, v in with_header[2]]


def test_an_error_handler_may_answer_with_a_werkzeug_response_on_the_direct_path():
    from werkzeug.wrappers import Response as WerkzeugResponse

    class Refused(Exception):
        pass

    async def handler(n):
        raise Refused("no")

    app, seen = make_app(handler)

    @app.server.errorhandler(Refused)
    async def refused(err):
        return WerkzeugResponse(b'{"refused": "werkzeug"}', status=409, content_type="application/json")

    response, data = run(twice(app))
    assert seen == ["RequestContext", "DeferredRequestContext"]
    assert (response.status_code, data) == (409, {"refused": "werkzeug"})
    assert response.headers["Content-Type"] == "application/json"


def test_pages_apps_take_the_direct_path_and_the_router_still_routes():
    from flash import page_container, register_page

    app = Flash(__name__, use_pages=True, pages_folder="")
    seen = []

    async def home():
        seen.append(type(_cv_request.get()).__name__)
        return html.Div([html.Button(id="btn"), html.Div(id="out")], id="home")

    register_page("home", path="/", layout=home, title="Home")
    register_page("other", path="/other", layout=html.Div("other page", id="other"), title="Other")
    app.layout = html.Div([page_container])

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
    async def show(n):
        seen.append(type(_cv_request.get()).__name__)
        return f"clicked {n}"

    def router_body(pathname, output):
        return callback_body(
            output,
            [dep("_pages_location", "pathname", pathname), dep("_pages_location", "search", "")],
            outputs=[{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        )

    async def go():
        client = app.server.test_client()
        assert (await client.get("/")).status_code == 200  # Dash's setup and the router's, through Quart
        deps = json.loads(await (await client.get("/_dash-dependencies")).get_data())
        output = next(d["output"] for d in deps if "_pages_content.children" in d["output"])
        page = await post(client, router_body("/", output))
        other = await post(client, router_body("/other", output))
        clicked = await post(client)
        return page, other, clicked

    (page, page_data), (other, other_data), (clicked, clicked_data) = run(go())
    assert page.status_code == other.status_code == clicked.status_code == 200
    # The router's validation layout at setup (through Quart), then the page's layout and the click.
    assert seen == ["RequestContext", "DeferredRequestContext", "DeferredRequestContext"]
    assert page_data["response"]["_pages_store"]["data"] == {"title": "Home"}
    assert other_data["response"]["_pages_content"]["children"]["props"]["children"] == "other page"
    assert clicked_data["response"] == {"out": {"children": "clicked 1"}}
    assert app.server.before_request_funcs[None] == [app._setup_server]
