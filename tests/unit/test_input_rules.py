"""The request rules of issue 10: JSON only, Origin checks, bounded nesting, shapes Dash would
refuse answered 4xx, no echo of the request in error bodies, client errors logged as one line.

Each rule is checked on the direct ASGI path (a plain app) and on the Quart path (the same app
with a `before_request` hook, which sends every request through Quart's views)."""

import gzip
import json
import logging

import pytest

from flash import Flash, Input, Output, html
from flash.server.limits import DEFAULT_MAX_JSON_DEPTH
from tests.conftest import callback_body, dep, run

CALLBACK = "/_dash-update-component"
PATHS = ["direct", "quart"]


def make_app(path, **kwargs):
    app = Flash(__name__, secret_key="input-rules-secret-0123456789", **kwargs)
    app.layout = html.Div([html.Button(id="btn"), html.Div(id="out"), html.Div(id="a"), html.Div(id="b")])
    app.calls = []

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
    async def echo(n):
        app.calls.append(n)
        if n == 13:
            raise RuntimeError("secret internals")
        return "ok"

    @app.callback(Output("a", "children"), Output("b", "children"), Input("btn", "id"))
    def both(_):
        return "a", "b"

    @app.event_callback(Input("btn", "n_clicks"))
    async def ticker(n):
        yield None

    if path == "quart":

        @app.server.before_request
        async def hook():
            return None

    app.stream_id = ticker.stream_id
    return app


GOOD = callback_body("out.children", [dep("btn", "n_clicks", 1)])
JSON = {"Content-Type": "application/json"}


def post_all(app, requests):
    """POST each (path, raw body, headers) after a first request that runs the app's setup."""

    async def go():
        client = app.server.test_client()
        await client.get("/")
        answers = []
        for path, raw, headers in requests:
            response = await client.post(path, data=raw, headers=headers)
            body = await response.get_data()
            answers.append((response.status_code, response.headers.get("Content-Type", ""), body))
        return answers

    return run(go())


def stream_routes(app):
    return [f"/_flash/stream/{app.stream_id}", "/_flash/downlink", "/_flash/close"]


# --- gzip bodies (Dash 4.5's compress_payload=True) ---------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_a_gzip_callback_body_is_inflated_within_the_size_limit(path):
    app = make_app(path, max_request_size=64 * 1024)
    gz = {**JSON, "Content-Encoding": "gzip"}
    good = gzip.compress(json.dumps(GOOD).encode())
    bomb = gzip.compress(b" " * (1024 * 1024))  # 1 MiB of spaces, about 1 KiB compressed
    answers = post_all(app, [(CALLBACK, good, gz), (CALLBACK, bomb, gz), (CALLBACK, good[:-8], gz), (CALLBACK, b"not gzip", gz)])
    assert answers[0][0] == 200 and json.loads(answers[0][2])["response"] == {"out": {"children": "ok"}}
    assert [status for status, _, _ in answers[1:]] == [413, 400, 400]
    assert app.calls == [1]


# --- JSON only --------------------------------------------------------------------------------

NOT_JSON = [
    None,
    "text/plain",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/jsonx",
    "application/json; charset=latin1",
    "",
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("content_type", NOT_JSON)
def test_callback_and_stream_endpoints_refuse_other_content_types_with_415(path, content_type):
    app = make_app(path)
    headers = {} if content_type is None else {"Content-Type": content_type}
    routes = [CALLBACK] + stream_routes(app)
    answers = post_all(app, [(route, json.dumps(GOOD).encode(), headers) for route in routes])
    for route, (status, ctype, body) in zip(routes, answers):
        assert status == 415, route
        assert ctype.startswith("application/json")
        assert json.loads(body) == {
            "error": "This endpoint accepts only 'Content-Type: application/json' request bodies.",
            "status": 415,
        }
    assert app.calls == [] and app.stream_runs.downlinks == {}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON;Charset=UTF-8"]
)
def test_json_content_types_are_accepted(path, content_type):
    app = make_app(path)
    [(status, _, _)] = post_all(app, [(CALLBACK, json.dumps(GOOD).encode(), {"Content-Type": content_type})])
    assert status == 200 and app.calls == [1]


@pytest.mark.parametrize("path", PATHS)
def test_cross_site_text_plain_post_runs_nothing(path):
    """What a page on another site can send without a CORS preflight: refused before it runs."""
    app = make_app(path)
    headers = {"Content-Type": "text/plain", "Origin": "http://evil.example"}
    start = {
        "inputs": [dep("btn", "n_clicks", 1)],
        "state": [],
        "changedPropIds": ["btn.n_clicks"],
        "downlink": app.stream_signer.new_downlink()[1],
    }
    answers = post_all(
        app,
        [
            (CALLBACK, json.dumps(GOOD).encode(), headers),
            (f"/_flash/stream/{app.stream_id}", json.dumps(start).encode(), headers),
            ("/_flash/downlink", b"{}", headers),
        ],
    )
    assert [status for status, _, _ in answers] == [415, 415, 415]
    assert app.calls == [], "the callback must not run"
    assert app.stream_runs.downlinks == {}, "no stream may start, no downlink open"


# --- Origin -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_allowed_origins_refuses_other_origins_with_403(path):
    app = make_app(path, allowed_origins=["https://partner.example"])
    body = json.dumps(GOOD).encode()
    cases = [
        ({}, 200),  # no Origin (not a browser, or a same-origin GET-like fetch)
        ({"Origin": "http://localhost", "Host": "localhost"}, 200),  # same origin
        ({"Origin": "http://localhost:80", "Host": "localhost"}, 200),  # default port
        ({"Origin": "https://partner.example"}, 200),  # listed
        ({"Origin": "https://PARTNER.example/"}, 200),
        ({"Origin": "http://proxy.example", "Host": "backend:8050", "X-Forwarded-Host": "proxy.example"}, 200),
        ({"Origin": "http://evil.example", "Host": "localhost"}, 403),
        ({"Origin": "null", "Host": "localhost"}, 403),
        ({"Origin": "http://localhost.evil.example", "Host": "localhost"}, 403),
        ({"Origin": "http://localhost:8051", "Host": "localhost:8050"}, 403),
        ({"Origin": "https://partner.example.evil"}, 403),
    ]
    answers = post_all(app, [(CALLBACK, body, {**JSON, **headers}) for headers, _ in cases])
    for (headers, want), (status, ctype, raw) in zip(cases, answers):
        assert status == want, headers
        if want == 403:
            assert json.loads(raw)["status"] == 403 and b"evil" not in raw
    stream = post_all(app, [(route, b"{}", {**JSON, "Origin": "http://evil.example"}) for route in stream_routes(app)])
    assert [status for status, _, _ in stream] == [403, 403, 403]


def test_allowed_origins_star_and_environment(monkeypatch):
    assert make_app("direct", allowed_origins=["*"]).limits.allowed_origins is None
    assert make_app("direct").limits.allowed_origins is None
    monkeypatch.setenv("FLASH_ALLOWED_ORIGINS", "https://a.example, https://b.example:443/")
    assert make_app("direct").limits.allowed_origins == ("https://a.example", "https://b.example")


def test_without_allowed_origins_a_cross_origin_json_post_is_not_checked():
    """No list: only the JSON rule applies (a cross-site page cannot send JSON without CORS)."""
    app = make_app("direct")
    [(status, _, _)] = post_all(app, [(CALLBACK, json.dumps(GOOD).encode(), {**JSON, "Origin": "http://other"})])
    assert status == 200


# --- nesting depth ------------------------------------------------------------------------------


def nested(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("path", PATHS)
def test_nesting_is_bounded_before_anything_recurses(path):
    app = make_app(path)
    at_limit = callback_body(
        "out.children", [dep("btn", "n_clicks", nested(DEFAULT_MAX_JSON_DEPTH - 3))]
    )  # body, inputs, dep: 3 more
    over = callback_body("out.children", [dep("btn", "n_clicks", nested(DEFAULT_MAX_JSON_DEPTH - 2))])
    raw_deep = (
        b'{"output": "out.children", "inputs": [{"id": "btn", "property": "n_clicks", "value": '
        + b"[" * 1000
        + b"]" * 1000
        + b"}]}"
    )
    # Written as bytes: json.dumps of 1,000 levels would itself pass Python's default recursion limit.
    start = b'{"inputs": [{"id": "btn", "property": "n_clicks", "value": ' + b"[" * 1000 + b"]" * 1000 + b'}], "downlink": null}'
    requests = [
        (CALLBACK, json.dumps(at_limit).encode(), JSON),
        (CALLBACK, json.dumps(over).encode(), JSON),
        (CALLBACK, raw_deep, JSON),
    ]
    requests += [(route, start, JSON) for route in stream_routes(app)]
    answers = post_all(app, requests)
    assert answers[0][0] == 200
    for status, _, body in answers[1:]:
        assert status == 400
        assert json.loads(body) == {
            "error": f"The request JSON is nested more than {DEFAULT_MAX_JSON_DEPTH} levels deep.",
            "status": 400,
        }


def test_max_json_depth_is_configurable():
    app = make_app("direct", max_json_depth=3)  # the body, its inputs list, an input
    ok = callback_body("out.children", [dep("btn", "n_clicks", 1)])
    deep = callback_body("out.children", [dep("btn", "n_clicks", [1])])
    assert [
        a[0] for a in post_all(app, [(CALLBACK, json.dumps(ok).encode(), JSON), (CALLBACK, json.dumps(deep).encode(), JSON)])
    ] == [200, 400]
    for bad in (0, 1, "32", True):
        with pytest.raises(ValueError):
            Flash(__name__, max_json_depth=bad)


# --- shapes Dash would refuse (after running the callback, as a 500) ----------------------------

BAD_SHAPES = [
    (
        "outputs not the callback's",
        callback_body("out.children", [dep("btn", "n_clicks", 1)], outputs={"id": "out", "property": "nope"}),
    ),
    (
        "outputs of another id",
        callback_body("out.children", [dep("btn", "n_clicks", 1)], outputs={"id": "a", "property": "children"}),
    ),
    ("outputs empty", callback_body("out.children", [dep("btn", "n_clicks", 1)], outputs=[])),
    (
        "outputs a list for a plain output",
        callback_body("out.children", [dep("btn", "n_clicks", 1)], outputs=[{"id": "out", "property": "children"}]),
    ),
    ("outputs id null", callback_body("out.children", [dep("btn", "n_clicks", 1)], outputs={"id": None, "property": "children"})),
    (
        "multi outputs too few",
        callback_body("..a.children...b.children..", [dep("btn", "id", "btn")], outputs=[{"id": "a", "property": "children"}]),
    ),
    (
        "multi outputs swapped",
        callback_body(
            "..a.children...b.children..",
            [dep("btn", "id", "btn")],
            outputs=[{"id": "b", "property": "children"}, {"id": "a", "property": "children"}],
        ),
    ),
    ("inputs nested two deep", callback_body("out.children", [[[dep("btn", "n_clicks", 1)]]], changed=[])),
    ("state nested two deep", {**GOOD, "state": [[[dep("btn", "n_clicks", 1)]]]}),
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("why,body", BAD_SHAPES, ids=[b[0] for b in BAD_SHAPES])
def test_shapes_dash_would_refuse_are_400_not_500(path, why, body):
    app = make_app(path)
    (status, ctype, raw), (good, _, _) = post_all(
        app, [(CALLBACK, json.dumps(body).encode(), JSON), (CALLBACK, json.dumps(GOOD).encode(), JSON)]
    )
    assert status == 400 and ctype.startswith("application/json"), why
    assert set(json.loads(raw)) == {"error", "status"}
    assert app.calls == [1] and good == 200, "the callback did not run for the bad body"


def test_stream_error_reports_never_reach_the_server():
    """A page tells dev tools of a stream's error through a clientside callback (it throws the
    error, so dev tools title it with the exception's message, as Dash 4.5 does): no server
    callback takes client-written text, so none can reach the server's log."""
    app = make_app("direct")

    async def go():
        client = app.server.test_client()
        await client.get("/")
        response = await client.get("/_dash-dependencies")
        return await response.get_json()

    reporters = [d for d in run(go()) if str(d["inputs"][0]["id"]).startswith("_flash-error-")]
    assert reporters and all(d["clientside_function"] == {"namespace": "_flash", "function_name": "report"} for d in reporters)


@pytest.mark.parametrize("pathname,search", [(5, None), ("/", ["x"]), ("no-leading-slash", None), ({}, "?a")])
def test_pages_router_refuses_a_location_that_is_not_a_path(pathname, search):
    from flash import page_container, register_page

    app = Flash(__name__, use_pages=True, pages_folder="")
    register_page("home", path="/", layout=html.Div("home"))
    app.layout = html.Div([page_container])

    async def go():
        client = app.server.test_client()
        await client.get("/")
        key = next(k for k in app.callback_map if "_pages_content" in k)
        body = callback_body(
            key,
            [dep("_pages_location", "pathname", pathname), dep("_pages_location", "search", search)],
            outputs=[{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        )
        good = {**body, "inputs": [dep("_pages_location", "pathname", "/"), dep("_pages_location", "search", "")]}
        bad = await client.post(CALLBACK, json=body)
        return bad.status_code, (await client.post(CALLBACK, json=good)).status_code

    assert run(go()) == (400, 200)


# --- no echo; debug may say more -----------------------------------------------------------------

MARK = "<script>alert(1)</script>\nERROR forged"


@pytest.mark.parametrize("path", PATHS)
def test_error_bodies_never_echo_the_request(path):
    app = make_app(path)
    bodies = [{**GOOD, "output": MARK}, {**GOOD, "inputs": [{"id": MARK}]}, {"output": MARK, "x": [[[MARK]]]}]
    requests = [(CALLBACK, json.dumps(b).encode(), JSON) for b in bodies]
    requests.append((CALLBACK, b"{" + MARK.encode(), JSON))
    requests += [(f"/_flash/stream/{MARK}", b"{}", JSON), ("/_flash/close", json.dumps({"downlink": MARK}).encode(), JSON)]
    for status, _, raw in post_all(app, requests):
        assert 400 <= status < 500
        assert b"script" not in raw and b"forged" not in raw, raw


def test_debug_mode_error_bodies_may_say_more():
    app = make_app("direct")
    app.enable_dev_tools(debug=True, dev_tools_hot_reload=False)
    [(status, _, raw)] = post_all(app, [(CALLBACK, json.dumps({**GOOD, "output": "nope.children"}).encode(), JSON)])
    answer = json.loads(raw)
    assert status == 400 and "nope.children" in answer["detail"]


# --- logs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_client_errors_are_one_escaped_log_line_without_traceback(path, caplog):
    app = make_app(path)
    caplog.set_level(logging.INFO, logger="flash.requests")
    post_all(
        app,
        [
            (CALLBACK, json.dumps({**GOOD, "output": "x\nERROR forged"}).encode(), JSON),
            (CALLBACK, b"{}", {"Content-Type": "text/plain"}),
        ],
    )

    async def weird_path():
        client = app.server.test_client()
        await client.get("/_dash-x%0AERROR%20forged%1b[31m")

    run(weird_path())
    records = [r for r in caplog.records if r.name == "flash.requests"]
    assert [r.levelno for r in records] == [logging.INFO] * 3
    for record in records:
        line = record.getMessage()
        assert "\n" not in line and "\r" not in line and "\x1b" not in line
        assert record.exc_info is None
    assert "client error 400" in records[0].getMessage() and "forged" not in records[0].getMessage()
    assert "client error 415" in records[1].getMessage()
    assert "client error 404" in records[2].getMessage() and "\\n" in records[2].getMessage()


def test_server_errors_still_log_the_traceback(caplog):
    app = make_app("direct")
    post_all(app, [(CALLBACK, json.dumps(callback_body("out.children", [dep("btn", "n_clicks", 13)])).encode(), JSON)])
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and errors[0].exc_info is not None and "secret internals" in str(errors[0].exc_info[1])
