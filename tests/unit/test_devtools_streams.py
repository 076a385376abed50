"""The dev tools' Streams panel routes, in process: absent (404) without debug; with debug they
list the worker's live runs, stop one, and show the last failed runs with their traceback."""

from __future__ import annotations

import asyncio

import pytest

from flash import Input, State, event_callback, stream_props
from flash.streaming.run import devtools
from tests.conftest import run
from tests.streaming.downlink_client import Downlink, make_app, post, run_id, setup, wait_until

LIST = "/_flash/debug/streams"
STOP = "/_flash/debug/streams/stop"


def debug_app(debug: bool = True):
    app = make_app()
    if debug:
        app.enable_dev_tools(debug=True, dev_tools_hot_reload=False)
    return app


def endless(app):
    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def ticker(n, rows):
        while True:
            yield stream_props("out", {"children": "tick"})
            await asyncio.sleep(0.01)

    return ticker


def test_without_debug_the_routes_answer_404_and_nothing_is_recorded():
    app = debug_app(debug=False)

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def breaks(n, rows):
        yield stream_props("out", {"children": "before"})
        raise ValueError("secret detail")

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            await downlink.finished(await downlink.start(breaks.stream_id))
        listed = await client.get(LIST)
        stopped = await post(client, STOP, {"run": "x"})
        return listed.status_code, await listed.get_json(), stopped

    status, body, (stop_status, stop_body) = run(go())
    assert status == 404 and stop_status == 404
    assert "secret" not in str(body) and "secret" not in str(stop_body)
    assert devtools.snapshot(app)["errors"] == []


def test_with_debug_live_runs_are_listed_and_stop_ends_one():
    app = debug_app()
    ticker = endless(app)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            handle = await downlink.start(ticker.stream_id)
            await downlink.until(lambda messages: len(messages) >= 3, handle)
            listed = await (await client.get(LIST)).get_json()
            stopped = await post(client, STOP, {"run": run_id(handle)})
            messages = await downlink.finished(handle)
            await wait_until(lambda: len(app.stream_runs) == 0)
            after = await (await client.get(LIST)).get_json()
            again = await post(client, STOP, {"run": run_id(handle)})
            return listed, stopped, messages, after, again

    listed, stopped, messages, after, again = run(go())
    [entry] = listed["runs"]
    assert entry["name"] == "ticker" and entry["run"] and entry["state"] == "running"
    assert entry["frames"] >= 3 and entry["rate"] > 0 and entry["age"] > 0
    assert entry["bytes"] >= 20 * entry["frames"], entry  # every SSE event it published is > 20 bytes
    assert stopped == (200, {"stopped": True})
    assert messages[-1].event == "done" and messages[-1].data == {"closed": True}
    assert after["runs"] == [] and after["errors"] == []
    assert again[0] == 404


def test_with_debug_a_failed_run_is_listed_with_its_traceback():
    app = debug_app()

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def breaks(n, rows):
        yield stream_props("out", {"children": "before"})
        raise ValueError("database down")

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            handle = await downlink.start(breaks.stream_id)
            await downlink.finished(handle)
        return handle, await (await client.get(LIST)).get_json()

    handle, listed = run(go())
    [failure] = listed["errors"]
    assert failure["run"] == run_id(handle) and failure["name"] == "breaks"
    assert failure["message"] == "database down" and failure["frames"] >= 1
    assert "Traceback" in failure["traceback"] and "ValueError: database down" in failure["traceback"]


def test_the_failed_runs_kept_are_bounded():
    app = debug_app()

    class Run:
        run_id, stream_id, seq = "r", "nope", 0

    for i in range(devtools.KEEP_FAILED + 5):
        devtools.record_failure(app, Run(), ValueError(str(i)))  # type: ignore[arg-type]
    errors = devtools.snapshot(app)["errors"]
    assert len(errors) == devtools.KEEP_FAILED
    assert errors[0]["message"] == str(devtools.KEEP_FAILED + 4)  # newest first


@pytest.mark.parametrize(
    "raw, headers, status",
    [
        (b"{not json", None, 400),
        (b"[1, 2]", None, 400),
        (b'{"run": 5}', None, 400),
        (b'{"run": ""}', None, 400),
        (b'{"run": "no-such-run-<script>"}', None, 404),
        (b'{"run": "x"}', {"Content-Type": "text/plain"}, 415),
    ],
)
def test_bad_stop_requests_get_a_4xx_json_error_that_does_not_echo_them(raw, headers, status):
    app = debug_app()

    async def go():
        client = app.server.test_client()
        await setup(client)
        return await post(client, STOP, raw, headers)

    got, body = run(go())
    assert got == status
    assert body["status"] == status and "error" in body
    assert "<script>" not in str(body) and "not json" not in str(body)


def test_a_stop_from_another_origin_is_refused_when_origins_are_limited():
    app = make_app(allowed_origins=["https://ok.example"])
    app.enable_dev_tools(debug=True, dev_tools_hot_reload=False)

    async def go():
        client = app.server.test_client()
        await setup(client)
        return await post(client, STOP, {"run": "x"}, {"Origin": "https://evil.example"})

    status, body = run(go())
    assert status == 403 and body["status"] == 403
