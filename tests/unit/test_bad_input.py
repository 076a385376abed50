"""Every endpoint answers bad input with a 4xx JSON error, keeps serving, and leaks no traceback."""

import asyncio
import json

import pytest

from flash import Flash, Input, Output, html
from tests.conftest import callback_body, dep, run


def make_app(**kwargs):
    app = Flash(__name__, **kwargs)
    app.layout = html.Div([html.Button(id="btn"), html.Div(id="out"), html.Div(id="side")])

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
    async def echo(n):
        if n == 13:
            raise RuntimeError("secret internals")
        return n

    app.clientside_callback("function (n) { return n; }", Output("side", "children"), Input("btn", "n_clicks"))
    return app


GOOD = callback_body("out.children", [dep("btn", "n_clicks", 1)])


async def send(client, method, path, **kwargs):
    response = await client.open(path, method=method, **kwargs)
    return response.status_code, response.headers.get("content-type", ""), await response.get_data()


BAD_CALLBACK_BODIES = [
    (b"{not json", "not valid JSON"),
    (b"", "empty"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"output": 5}', "'output' must be a non-empty string"),
    (b'{"output": "nope.children", "inputs": []}', "Unknown callback output"),
    (json.dumps({**GOOD, "inputs": []}).encode(), "'inputs' has 0 entries but the callback declares 1"),
    (json.dumps({**GOOD, "inputs": [{"id": "btn"}]}).encode(), "'id' and 'property'"),
    (json.dumps({**GOOD, "inputs": "x"}).encode(), "'inputs' must be a list"),
    (json.dumps({**GOOD, "changedPropIds": [1]}).encode(), "'changedPropIds' must be a list of strings"),
    (json.dumps({**GOOD, "outputs": 3}).encode(), "'outputs' must be an object"),
    # a clientside callback's output: Dash's map holds it with no function (it was a 500)
    (json.dumps(callback_body("side.children", [dep("btn", "n_clicks", 1)])).encode(), "runs in the browser"),
]


@pytest.mark.parametrize("raw,message", BAD_CALLBACK_BODIES)
def test_malformed_callback_bodies_get_400_json(raw, message):
    app = make_app()

    async def go():
        client = app.server.test_client()
        bad = await send(client, "POST", "/_dash-update-component", data=raw, headers={"Content-Type": "application/json"})
        good = await send(client, "POST", "/_dash-update-component", json=GOOD)
        return bad, good

    (status, ctype, body), (good_status, _, _) = run(go())
    assert status == 400
    assert ctype.startswith("application/json")
    error = json.loads(body)
    assert message in error["error"] and error["status"] == 400
    assert set(error) == {"error", "status"}, "no request content is echoed back"
    assert b"nope.children" not in body
    assert good_status == 200, "the server must keep serving after bad input"


def test_oversized_body_gets_413_json_with_configurable_limit():
    app = make_app(max_request_size=2000)

    async def go():
        client = app.server.test_client()
        big = {**GOOD, "padding": "x" * 5000}
        return (
            await send(client, "POST", "/_dash-update-component", json=big),
            await send(client, "POST", "/_dash-update-component", json=GOOD),
        )

    (status, ctype, body), (good_status, _, _) = run(go())
    assert status == 413 and ctype.startswith("application/json")
    assert "2000-byte limit" in json.loads(body)["error"]
    assert good_status == 200


def test_max_request_size_from_environment(monkeypatch):
    monkeypatch.setenv("FLASH_MAX_REQUEST_SIZE", "1234")
    assert make_app().server.config["MAX_CONTENT_LENGTH"] == 1234
    with pytest.raises(ValueError):
        Flash(__name__, max_request_size=0)


def test_callback_exception_without_debug_is_json_500_without_traceback():
    app = make_app()

    async def go():
        client = app.server.test_client()
        return await send(
            client, "POST", "/_dash-update-component", json=callback_body("out.children", [dep("btn", "n_clicks", 13)])
        )

    status, ctype, body = run(go())
    assert status == 500 and ctype.startswith("application/json")
    assert json.loads(body) == {"error": "Internal server error.", "status": 500}
    assert b"Traceback" not in body and b"secret internals" not in body


def test_callback_exception_with_debug_shows_the_traceback_for_dev_tools():
    app = make_app()
    app.enable_dev_tools(debug=True, dev_tools_hot_reload=False)

    async def go():
        client = app.server.test_client()
        return await send(
            client, "POST", "/_dash-update-component", json=callback_body("out.children", [dep("btn", "n_clicks", 13)])
        )

    status, ctype, body = run(go())
    assert status == 500 and ctype.startswith("text/html")
    assert b"secret internals" in body and b"Traceback" in body


@pytest.mark.parametrize(
    "path,status,message",
    [
        ("/_dash-component-suites/dash/../../../etc/passwd", 400, "relative path inside the package"),
        ("/_dash-component-suites/dash/deps/..%2F..%2Fversion.py", 400, "relative path"),
        ("/_dash-component-suites/not_a_package/x.js", 404, "Unknown component package"),
        ("/_dash-component-suites/dash/deps/not-registered.js", 404, "not a registered resource"),
        ("/assets/../pyproject.toml", 404, "not found"),
    ],
)
def test_component_suites_and_assets_reject_traversal_and_unknown_files(path, status, message):
    app = make_app()

    async def go():
        client = app.server.test_client()
        await client.get("/")  # registers the page's resources
        return await send(client, "GET", path)

    got_status, ctype, body = run(go())
    assert got_status == status
    assert ctype.startswith("application/json")
    assert message in json.loads(body)["error"]
    assert b"passwd" not in body and b"not_a_package" not in body and b"not-registered" not in body


def test_registered_component_suite_is_served_with_long_cache():
    app = make_app()

    async def go():
        client = app.server.test_client()
        index = (await (await client.get("/")).get_data()).decode()
        src = next(s for s in index.split('"') if "dash_renderer" in s and s.endswith(".js"))
        response = await client.get(src)
        return response.status_code, response.headers.get("Cache-Control"), len(await response.get_data())

    status, cache, size = run(go())
    assert status == 200 and "max-age=31536000" in cache and size > 10000


def test_wrong_method_on_dash_route_is_json_405():
    app = make_app()

    async def go():
        client = app.server.test_client()
        return await send(client, "PUT", "/_dash-layout")

    status, ctype, body = run(go())
    assert status == 405 and ctype.startswith("application/json")


def test_user_routes_keep_quart_error_pages():
    app = make_app()
    from quart import abort

    @app.server.route("/api/thing")
    async def thing():
        abort(404)

    async def go():
        client = app.server.test_client()
        return await send(client, "GET", "/api/thing")

    status, ctype, _ = run(go())
    assert status == 404 and ctype.startswith("text/html")


async def asgi_get(server, path):
    """One GET through the app's ASGI callable, as a server (Hypercorn) would send it."""
    sent, answered, requests = [], asyncio.Event(), [{"type": "http.request", "body": b"", "more_body": False}]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 1),
        "server": ("localhost", 80),
    }

    async def receive():
        if requests:
            return requests.pop()
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send_(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    await server(scope, receive, send_)
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers.get("content-type", ""), body


def failing_user_route(app):
    @app.server.route("/api/broken")
    async def broken():
        raise RuntimeError("user route internals")


def test_an_exception_in_a_user_route_gets_quarts_500_page_not_flashs_json(caplog):
    app = make_app()
    failing_user_route(app)

    async def go():
        client = app.server.test_client()
        return await send(client, "GET", "/api/broken")

    with caplog.at_level("ERROR", logger=app.server.name):
        status, ctype, body = run(go())
    assert status == 500 and ctype.startswith("text/html")
    assert b"Internal Server Error" in body and b"user route internals" not in body
    assert any("Exception on request GET /api/broken" in r.getMessage() for r in caplog.records)  # Quart's line


def test_an_exception_in_a_user_route_in_debug_gets_quarts_traceback_page():
    app = make_app()
    failing_user_route(app)
    app.server.debug = True  # what app.run(debug=True) sets

    status, ctype, body = run(asgi_get(app.server, "/api/broken"))
    assert status == 500 and ctype.startswith("text/html")
    assert b"user route internals" in body and b"Flash Debugger" not in body


def test_exceptions_in_dashs_routes_keep_flashs_answers():
    app = make_app()

    async def layout():
        raise RuntimeError("layout internals")

    async def go():
        client = app.server.test_client()
        await client.get("/")
        app.layout = layout
        return await send(client, "GET", "/_dash-layout")

    status, ctype, body = run(go())
    assert status == 500 and ctype.startswith("application/json")
    assert json.loads(body) == {"error": "Internal server error.", "status": 500}


@pytest.mark.parametrize(
    "path",
    [
        "/_dash-nothing",
        "/_dash-layout/extra",
        "/_flash/stream/",
        "/_flash/downlink/extra",
        "/_flash/close/x",
        "/_flash/unknown/route",
        "/_reload-hash/x",
    ],
)
def test_unknown_framework_paths_are_json_404_while_other_paths_serve_the_page(path):
    app = make_app()

    async def go():
        client = app.server.test_client()
        page = await send(client, "GET", "/some/client-side/route")
        return page, await send(client, "GET", path)

    (page_status, page_type, _), (status, ctype, body) = run(go())
    assert page_status == 200 and page_type.startswith("text/html")
    assert status == 404 and ctype.startswith("application/json")
    answer = json.loads(body)
    assert answer == {"error": "There is no Flash or Dash endpoint at this path.", "status": 404}


STREAM_ROUTES = ["/_flash/downlink", "/_flash/stream/{stream}", "/_flash/close"]
BAD_STREAM_BODIES = [
    (b"{not json", 400, "not valid JSON"),
    (b"", 400, "empty"),
    (b"[1, 2]", 400, "must be a JSON object"),
    (b'"a string"', 400, "must be a JSON object"),
    (b"null", 400, "must be a JSON object"),
    (b'{"pad": "' + b"x" * 3000 + b'"}', 413, "2000-byte limit"),
]


def stream_app():
    app = make_app(max_request_size=2000)

    @app.event_callback(Input("btn", "n_clicks"))
    async def ticker(n):
        yield None

    return app, ticker.stream_id


@pytest.mark.parametrize("route", STREAM_ROUTES)
@pytest.mark.parametrize("raw,status,message", BAD_STREAM_BODIES)
def test_stream_routes_answer_bad_bodies_with_4xx_json_and_keep_serving(route, raw, status, message):
    app, stream_id = stream_app()
    path = route.format(stream=stream_id)

    async def go():
        client = app.server.test_client()
        await client.get("/")  # the first request takes the app's streams
        bad = await send(client, "POST", path, data=raw, headers={"Content-Type": "application/json"})
        good = await send(client, "POST", "/_dash-update-component", json=GOOD)
        return bad, good

    (got_status, ctype, body), (good_status, _, _) = run(go())
    assert got_status == status and ctype.startswith("application/json")
    error = json.loads(body)
    assert error["status"] == status and message in error["error"]
    assert b"Traceback" not in body and b"xxxx" not in body and b"not json" not in body
    assert good_status == 200


@pytest.mark.parametrize("route", STREAM_ROUTES)
def test_stream_routes_refuse_other_methods_with_json(route):
    app, stream_id = stream_app()

    async def go():
        client = app.server.test_client()
        await client.get("/")
        return await send(client, "PUT", route.format(stream=stream_id))

    status, ctype, body = run(go())
    assert status == 405 and ctype.startswith("application/json")
    assert json.loads(body)["status"] == 405
