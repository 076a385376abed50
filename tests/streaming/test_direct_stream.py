"""The stream routes on Flash's direct ASGI path and through Quart: the same downlink, runs,
close, resume and error answers either way, and the direct path is only taken when nothing
registered on the server would notice."""

import asyncio

import pytest
from quart import request
from quart.globals import _cv_request

from flash import Input, State, ctx, stream_props
from flash.server.direct import DirectPath
from tests.conftest import run
from tests.streaming.downlink_client import Downlink, make_app, post, props_values, setup, start_body, wait_until

ROUTES = ("downlink", "stream", "close")

pytestmark = pytest.mark.direct_path  # about the direct path itself: on whatever FLASH_DIRECT_PATH says


def _plain(app, log):
    pass


def _before(app, log):
    @app.server.before_request
    async def hook():
        log.append(request.path)


def _secret(app, log):
    app.server.secret_key = "s3cret"  # Quart sessions: the direct path would skip them


PATHS = [(_plain, "DeferredRequestContext"), (_before, "RequestContext"), (_secret, "RequestContext")]


def direct_routes(app):
    """Which stream routes the direct path takes now (the test client goes through it too)."""
    path = app.server.asgi_app
    assert isinstance(path, DirectPath)
    return {name: path.applies(path.routes[name]) for name in ROUTES}


def stream_app(register, **kwargs):
    app = make_app(**kwargs)
    log, seen, closed = [], [], []
    register(app, log)

    @app.event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def count(n, rows):
        seen.append((type(_cv_request.get()).__name__, request.path, request.headers.get("X-Probe")))
        try:
            yield stream_props("out", {"children": f"{ctx.triggered_id} n={n}"})
            for i in range(rows):
                await asyncio.sleep(0)
                yield stream_props("rows", {"children": i})
            if n == 9:  # an endless run for the close and resume checks
                i = 0
                while True:
                    i += 1
                    yield stream_props("out", {"children": i})
                    await asyncio.sleep(0.005)
        finally:
            closed.append(n)

    return app, count.stream_id, log, seen, closed


@pytest.mark.parametrize("register, context", PATHS)
def test_a_downlink_gives_the_same_messages_on_either_path(register, context):
    app, stream_id, log, seen, _ = stream_app(register)

    async def go():
        client = app.server.test_client()
        await setup(client)
        taken = direct_routes(app)
        async with Downlink(client, headers={"X-Probe": "down"}) as downlink:
            handle = await downlink.start(stream_id, headers={"X-Probe": "start"})
            messages = await downlink.finished(handle)
            headers = dict(downlink.conn.headers)
        return taken, messages, headers

    taken, messages, headers = run(go())
    assert taken == dict.fromkeys(ROUTES, register is _plain)
    assert [(m.event, m.seq) for m in messages] == [("props", i) for i in range(1, 5)] + [("done", 5)]
    assert messages[0].data == [["out", {"children": "go n=1"}]]
    assert props_values(messages[1:4], "rows") == [0, 1, 2]
    assert seen == [(context, f"/_flash/stream/{stream_id}", "start")], "the run sees the request that started it"
    assert headers["content-type"] == "text/event-stream; charset=utf-8"
    assert headers["cache-control"] == "no-cache, no-transform" and headers["x-accel-buffering"] == "no"
    if register is _before:
        assert "/_flash/downlink" in log and f"/_flash/stream/{stream_id}" in log


@pytest.mark.parametrize("register, context", PATHS)
def test_close_and_resume_work_the_same_on_either_path(register, context):
    app, stream_id, _, _, closed = stream_app(register, stream_resume_window=5)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as first:
            handle = await first.start(stream_id, n=9, rows=0)
            await first.until(lambda ms: len(ms) >= 3, handle)
            await first.cut()
        # The browser went away: its response detaches and the run waits for a reconnect.
        detached = await wait_until(lambda: app.stream_runs.downlinks[first.token.split(".")[0]].listener is None)
        got = first.messages(handle)
        async with Downlink(client, first.token, {handle: got[-1].seq}) as second:
            rest = await second.until(lambda ms: len(ms) >= 3, handle)
            answer = await second.close(handle)
            rest = await second.finished(handle)
            await wait_until(lambda: closed)
        return detached, second.resumed, got, rest, answer

    detached, resumed, got, rest, answer = run(go())
    assert detached and resumed
    assert [m.seq for m in got + rest] == list(range(1, len(got) + len(rest) + 1)), "no gap, no repeat"
    assert answer == (200, {"closed": 1, "unknown": []})
    assert rest[-1].event == "done" and rest[-1].data == {"closed": True}
    assert closed == [9]


def test_the_direct_path_answers_bad_stream_requests_like_quart():
    async def answers(register):
        app, stream_id, _, _, _ = stream_app(register, max_request_size=2000)
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            token = downlink.token
            requests = [
                ("/_flash/downlink", b"{nope"),
                ("/_flash/downlink", b"[1, 2]"),
                ("/_flash/downlink", b""),
                ("/_flash/downlink", {"downlink": "forged.token"}),
                ("/_flash/downlink", {"downlink": token, "runs": {"x": -1}}),
                (f"/_flash/stream/{stream_id}", b"{nope"),
                ("/_flash/stream/unknown", b"{}"),
                (f"/_flash/stream/{stream_id}", b"[1, 2]"),
                (f"/_flash/stream/{stream_id}", start_body(None)),
                (f"/_flash/stream/{stream_id}", start_body(token, inputs=[])),
                ("/_flash/close", b"{nope"),
                ("/_flash/close", {"downlink": token, "runs": ["forged"]}),
                ("/_flash/close", {"downlink": token, "runs": 3}),
            ] + [(path, {"pad": "x" * 3000}) for path in ("/_flash/downlink", f"/_flash/stream/{stream_id}", "/_flash/close")]
            got = []
            for path, body in requests:
                raw = body if isinstance(body, bytes) else None
                if raw is not None:
                    response = await client.post(path, data=raw, headers={"Content-Type": "application/json"})
                    got.append((response.status_code, response.headers["Content-Type"], await response.get_json()))
                else:
                    status, answer = await post(client, path, body)
                    got.append((status, "application/json", answer))
        return direct_routes(app), got

    direct, direct_answers = run(answers(_plain))
    quart, quart_answers = run(answers(_before))
    assert all(direct.values()) and not any(quart.values())
    assert direct_answers == quart_answers
    for status, content_type, body in direct_answers:
        assert 400 <= status < 500
        assert content_type == "application/json"
        assert body["status"] == status and body["error"]
    assert {status for status, _, _ in direct_answers} == {400, 403, 404, 413}


@pytest.mark.parametrize("register", [_plain, _before])
def test_stream_routes_follow_the_routes_prefix(register):
    app = make_app(routes_pathname_prefix="/app/", requests_pathname_prefix="/app/")
    register(app, [])

    @app.event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def prefixed(n, rows):
        yield stream_props("out", {"children": n})

    async def go():
        client = app.server.test_client()
        await client.get("/app/")
        async with Downlink(client, path="/app/_flash/downlink") as downlink:
            status, answer = await post(client, f"/app/_flash/stream/{prefixed.stream_id}", start_body(downlink.token))
            messages = await downlink.finished(answer["run"])
            unprefixed = await post(client, "/_flash/close", {"downlink": downlink.token, "runs": []})
            closed = await post(client, "/app/_flash/close", {"downlink": downlink.token, "runs": [answer["run"]]})
        return status, [(m.event, m.data) for m in messages], unprefixed[0], closed

    status, messages, unprefixed, closed = run(go())
    assert status == 200 and messages == [("props", [["out", {"children": 1}]]), ("done", {})]
    assert unprefixed == 404 and closed == (200, {"closed": 0, "unknown": []})
