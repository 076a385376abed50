"""Streams on Flash's direct ASGI path and through Quart: the same events either way, and the
direct path is only taken when nothing registered on the server would notice."""
import asyncio
import json

import pytest
from quart import request
from quart.globals import _cv_request

from flash import Input, State, ctx, event_callback, stream_props
from tests.conftest import run
from tests.streaming.test_endpoint import Stream, final, kinds, make_app, setup, stream_body


def _plain(app, log):
    pass


def _before(app, log):
    @app.server.before_request
    async def hook():
        log.append("before")


def _secret(app, log):
    app.server.secret_key = "s3cret"


@pytest.mark.parametrize("register, context", [
    (_plain, "DeferredRequestContext"),
    (_before, "RequestContext"),
    (_secret, "RequestContext"),
])
def test_a_stream_gives_the_same_events_on_either_path(register, context):
    app = make_app()
    log = []
    register(app, log)
    seen = []

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def count(n, rows):
        seen.append((type(_cv_request.get()).__name__, request.path, request.headers.get("X-Probe")))
        yield stream_props("out", {"children": f"{ctx.triggered_id} n={n}"})
        for i in range(rows):
            await asyncio.sleep(0)
            yield stream_props("rows", {"children": i})

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Stream(client, f"/_flash/stream/{count.stream_id}", stream_body(), {"X-Probe": "yes"}) as s:
            return await s.events_until(final)

    events = run(go())
    assert kinds(events) == ["open", "props", "props", "props", "props", "done"]
    assert json.loads(events[1]["data"]) == [["out", {"children": "go n=1"}]]
    assert [json.loads(e["data"])[0][1]["children"] for e in events[2:5]] == [0, 1, 2]
    assert seen == [(context, f"/_flash/stream/{count.stream_id}", "yes")]
    assert ("before" in log) == (register is _before)


def test_the_direct_path_answers_bad_stream_requests_like_quart():
    app = make_app()

    @event_callback(Input("go", "n_clicks"))
    async def one(n):
        yield stream_props("out", {"children": n})

    async def go():
        client = app.server.test_client()
        await setup(client)
        answers = []
        for path, body in ((f"/_flash/stream/{one.stream_id}", b"{nope"),
                           ("/_flash/stream/unknown", b"{}"),
                           (f"/_flash/stream/{one.stream_id}", b"[1, 2]")):
            response = await client.post(path, data=body, headers={"Content-Type": "application/json"})
            answers.append((response.status_code, response.headers["Content-Type"], await response.get_json()))
        return answers

    for status, content_type, body in run(go()):
        assert 400 <= status < 500
        assert content_type == "application/json"
        assert body["status"] == status and body["error"]
