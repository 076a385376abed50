"""The stream endpoint in-process: events, ctx, threads, errors, close, resume and bad input."""
import asyncio
import json
import threading

import pytest

from flash import Flash, Input, State, ctx, event_callback, html, set_props, stream_props
from flash.streaming.sse import parse_events
from tests.conftest import dep, run


def make_app(**kwargs):
    app = Flash(__name__, **kwargs)
    app.layout = html.Div([html.Button(id="go"), html.Div(id="out"), html.Div(id="side"), html.Div(id="rows")])
    return app


def stream_body(run_id="run1", n=1, rows=3, last=None):
    return {
        "inputs": [dep("go", "n_clicks", n)],
        "state": [dep("rows", "children", rows)],
        "changedPropIds": ["go.n_clicks"],
        "run": run_id,
        "lastEventId": last,
    }


class Stream:
    """An open SSE response read chunk by chunk through Quart's ASGI test connection."""

    def __init__(self, client, path, body, headers=()):
        headers = {"Content-Type": "application/json", **dict(headers)}
        self.conn = client.request(path, method="POST", headers=headers)
        self.body = json.dumps(body).encode()
        self.raw = b""

    async def __aenter__(self):
        await self.conn.__aenter__()
        await self.conn.send(self.body)
        await self.conn.send_complete()
        return self

    async def events_until(self, predicate, timeout=5):
        async def read():
            while not predicate(parse_events(self.raw)):
                self.raw += await self.conn.receive()
            return parse_events(self.raw)

        return await asyncio.wait_for(read(), timeout)

    async def cut(self):
        await self.conn.disconnect()
        await asyncio.sleep(0.05)

    async def __aexit__(self, *exc):
        await self.conn.disconnect()
        try:
            await asyncio.wait_for(self.conn._task, 2)
        except Exception:  # the response task ends by cancellation on disconnect
            pass


def kinds(events):
    return [e["event"] for e in events]


def final(events):
    return bool(events) and events[-1]["event"] in ("done", "error")


async def setup(client):
    await client.get("/")  # first request takes the event callbacks


def test_a_stream_yields_numbered_updates_in_order_then_done():
    app = make_app()

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def count(n, rows):
        yield stream_props("out", {"children": f"start by {ctx.triggered_id} n={n}"})
        for i in range(rows):
            await asyncio.sleep(0)
            yield stream_props([("out", {"children": i})])

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Stream(client, f"/_flash/stream/{count.stream_id}", stream_body()) as s:
            return await s.events_until(final)

    events = run(go())
    assert kinds(events) == ["open", "props", "props", "props", "props", "done"]
    assert json.loads(events[0]["data"]) == {"run": "run1", "resumed": False}
    assert [e.get("id") for e in events[1:]] == ["1", "2", "3", "4", "5"]
    assert json.loads(events[1]["data"]) == [["out", {"children": "start by go n=1"}]]
    assert [json.loads(e["data"])[0][1]["children"] for e in events[2:5]] == [0, 1, 2]
    assert len(app.stream_runs) == 0


def test_sync_generator_runs_in_a_thread_and_set_props_is_streamed():
    app = make_app()
    threads = []

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    def sync_gen(n, rows):
        threads.append(threading.current_thread() is threading.main_thread())
        set_props("side", {"children": "via set_props"})
        yield stream_props("out", {"children": f"{ctx.triggered_id}"})

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Stream(client, f"/_flash/stream/{sync_gen.stream_id}", stream_body()) as s:
            return await s.events_until(final)

    events = run(go())
    assert kinds(events) == ["open", "props", "done"]
    assert json.loads(events[1]["data"]) == [["side", {"children": "via set_props"}], ["out", {"children": "go"}]]
    assert threads == [False]


@pytest.mark.parametrize("debug", [False, True])
def test_errors_call_on_error_then_send_an_error_event(debug):
    app = make_app()
    if debug:
        app.enable_dev_tools(debug=True, dev_tools_hot_reload=False)
    errors = []

    def on_error(exc):
        errors.append(exc)
        return stream_props("out", {"children": f"Failed: {exc}"})

    @event_callback(Input("go", "n_clicks"), State("rows", "children"), on_error=on_error)
    async def breaks(n, rows):
        yield stream_props("out", {"children": "before"})
        raise ValueError("database down")

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Stream(client, f"/_flash/stream/{breaks.stream_id}", stream_body()) as s:
            return await s.events_until(final)

    events = run(go())
    assert kinds(events) == ["open", "props", "props", "error"]
    assert json.loads(events[2]["data"]) == [["out", {"children": "Failed: database down"}]]
    body = json.loads(events[3]["data"])
    assert isinstance(errors[0], ValueError)
    if debug:
        assert "database down" in body["message"] and "Traceback" in body["traceback"]
    else:
        assert body == {"stream": "breaks", "message": "The stream failed."}


def test_delete_closes_the_generator_at_once_and_its_finally_runs():
    app = make_app()
    closed = []

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def endless(n, rows):
        try:
            i = 0
            while True:
                i += 1
                yield stream_props("out", {"children": i})
                await asyncio.sleep(0.01)
        finally:
            closed.append(True)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Stream(client, f"/_flash/stream/{endless.stream_id}", stream_body("r-del")) as s:
            await s.events_until(lambda ev: len(ev) > 3)
            live_before = len(app.stream_runs)
            response = await client.delete(f"/_flash/stream/{endless.stream_id}/r-del")
            answer = await response.get_json()
            # The open response ends with a final event instead of idling on heartbeats.
            events = await s.events_until(final)
            await asyncio.sleep(0.05)
            return live_before, answer, len(app.stream_runs), events[-1]

    live_before, answer, live_after, last = run(go())
    assert live_before == 1 and answer == {"closed": True}
    assert closed == [True] and live_after == 0
    assert last["event"] == "done" and json.loads(last["data"]) == {"closed": True}


def test_a_dropped_connection_resumes_after_the_last_received_id():
    app = make_app(stream_resume_window=5)

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def ticks(n, rows):
        for i in range(1, 9):
            yield stream_props("out", {"children": i})
            await asyncio.sleep(0.01)

    async def go():
        client = app.server.test_client()
        await setup(client)
        path = f"/_flash/stream/{ticks.stream_id}"
        async with Stream(client, path, stream_body("r-res")) as first:
            got = await first.events_until(lambda ev: len(ev) >= 4)
            await first.cut()
        last_id = int(got[-1]["id"])
        async with Stream(client, path, stream_body("r-res", last=last_id)) as second:
            rest = await second.events_until(final)
        return last_id, rest

    last_id, rest = run(go())
    assert json.loads(rest[0]["data"]) == {"run": "r-res", "resumed": True}
    ids = [int(e["id"]) for e in rest[1:]]
    assert ids == list(range(last_id + 1, 10)), "every message after the last received id, once, in order"
    assert kinds(rest)[-1] == "done"


def test_an_unknown_run_restarts_cleanly():
    app = make_app()

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def short(n, rows):
        yield stream_props("out", {"children": "first"})

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Stream(client, f"/_flash/stream/{short.stream_id}", stream_body("never-seen", last=40)) as s:
            return await s.events_until(final)

    events = run(go())
    assert json.loads(events[0]["data"])["resumed"] is False
    assert events[1]["id"] == "1"


def test_dropped_run_is_closed_after_the_resume_window():
    app = make_app(stream_resume_window=0.1)
    closed = []

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def forever(n, rows):
        try:
            while True:
                yield stream_props("out", {"children": "tick"})
                await asyncio.sleep(0.01)
        finally:
            closed.append(True)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Stream(client, f"/_flash/stream/{forever.stream_id}", stream_body("r-drop")) as s:
            await s.events_until(lambda ev: len(ev) >= 2)
            await s.cut()
        for _ in range(100):
            if closed:
                break
            await asyncio.sleep(0.02)
        return len(app.stream_runs)

    assert run(go()) == 0
    assert closed == [True]


@pytest.mark.parametrize(
    "mutate,status,message",
    [
        (lambda b: b.update(inputs=[]), 400, "'inputs' has 0 entries"),
        (lambda b: b.update(state="x"), 400, "'state' must be a list"),
        (lambda b: b.update(run="../etc"), 400, "'run' must be 1-64 characters"),
        (lambda b: b.update(run=None), 400, "'run' must be"),
        (lambda b: b.update(lastEventId=-1), 400, "'lastEventId'"),
        (lambda b: b.update(changedPropIds="go"), 400, "'changedPropIds'"),
    ],
)
def test_bad_stream_requests_get_4xx_json(mutate, status, message):
    app = make_app()

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def guarded(n, rows):
        yield stream_props("out", {"children": 1})

    body = stream_body()
    mutate(body)

    async def go():
        client = app.server.test_client()
        await setup(client)
        response = await client.post(f"/_flash/stream/{guarded.stream_id}", json=body)
        return response.status_code, await response.get_json()

    got, error = run(go())
    assert got == status and message in error["error"]


def test_unknown_stream_malformed_and_oversized_bodies():
    app = make_app(max_request_size=1000)

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def only(n, rows):
        yield stream_props("out", {"children": 1})

    async def go():
        client = app.server.test_client()
        await setup(client)
        path = f"/_flash/stream/{only.stream_id}"
        unknown = await client.post("/_flash/stream/deadbeef", json=stream_body())
        malformed = await client.post(path, data=b"{oops", headers={"Content-Type": "application/json"})
        big = await client.post(path, json={**stream_body(), "pad": "x" * 3000})
        delete_unknown = await client.delete("/_flash/stream/deadbeef/r1")
        return [(r.status_code, (await r.get_json())["error"]) for r in (unknown, malformed, big, delete_unknown)]

    (s1, e1), (s2, e2), (s3, e3), (s4, e4) = run(go())
    assert (s1, s2, s3, s4) == (404, 400, 413, 404)
    assert "Unknown stream" in e1 and "not valid JSON" in e2 and "limit" in e3 and "Unknown stream" in e4


def test_heartbeats_flow_on_an_idle_stream():
    app = make_app(stream_heartbeat=0.05)

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def idle(n, rows):
        yield stream_props("out", {"children": "hello"})
        await asyncio.sleep(10)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Stream(client, f"/_flash/stream/{idle.stream_id}", stream_body("r-hb")) as s:
            await s.events_until(lambda ev: len(ev) >= 2)
            while s.raw.count(b": heartbeat") < 2:
                s.raw += await asyncio.wait_for(s.conn.receive(), 2)
            return s.raw.count(b": heartbeat")

    assert run(go()) >= 2


def test_an_idle_stream_keeps_only_the_encoded_message_not_the_values_behind_it():
    import gc
    import weakref

    app = make_app()
    refs = []

    def big_value():
        value = html.Ul([html.Li(str(i)) for i in range(100)])
        refs.append(weakref.ref(value))
        return value

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def idler(n, rows):
        yield stream_props("out", {"children": big_value()})
        await asyncio.sleep(10)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Stream(client, f"/_flash/stream/{idler.stream_id}", stream_body("r-idle")) as s:
            events = await s.events_until(lambda ev: len(ev) >= 2)
            await asyncio.sleep(0.05)
            gc.collect()
            return events, [ref() is None for ref in refs]

    events, released = run(go())
    assert kinds(events) == ["open", "props"]
    assert "\"99\"" in events[1]["data"]  # the value was sent whole
    assert released == [True]
