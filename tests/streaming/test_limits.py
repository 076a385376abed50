"""Stream limits in-process: live runs per downlink (429), downlinks per worker (503 with
Retry-After), a run's replay buffer bounded in bytes, and a write that waits too long for its
reader cuts the downlink (its runs end after the resume window) while idle or slow-but-reading
downlinks go on. Stalled readers against real servers: test_stalled_reader.py."""

import asyncio
import json

import pytest

from flash import Flash, Input, State, stream_props
from flash.server.limits import Limits
from flash.server.sse import RunMessage
from flash.streaming.run.runs import StreamRun
from flash.streaming.wire.direct import send_downlink
from flash.streaming.wire.endpoint import open_downlink
from tests.conftest import run
from tests.streaming.downlink_client import JSON, Downlink, make_app, post, setup, start_body, wait_until

MARKER = "zz-request-text-zz"  # sent in every body; must never come back in an error


def endless_app(**kwargs):
    app = make_app(**kwargs)
    closed = []

    @app.event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def endless(n, rows):
        try:
            if n == 0:  # a short run, for "finished runs do not count"
                yield stream_props("out", {"children": "done"})
                return
            i = 0
            while True:
                i += 1
                yield stream_props("out", {"children": f"{i} {'x' * (rows or 0)}"})
                await asyncio.sleep(0.001)
        finally:
            closed.append(n)

    return app, endless.stream_id, closed


def assert_error_body(answer, status, *words):
    assert set(answer) == {"error", "status"} and answer["status"] == status, answer
    for word in words:
        assert word in answer["error"], answer
    assert MARKER not in json.dumps(answer)


# --- options -------------------------------------------------------------------------------
def test_defaults_and_bad_values():
    limits = Flash(__name__).limits
    assert (limits.max_streams_per_client, limits.max_downlinks, limits.stream_write_timeout, limits.stream_replay_bytes) == (
        256,
        10_000,
        30.0,
        1_048_576,
    )
    app = Flash(__name__, max_streams_per_client=3, max_downlinks=4, stream_write_timeout=0.5, stream_replay_bytes=99)
    assert (
        app.limits.max_streams_per_client,
        app.limits.max_downlinks,
        app.stream_runs.write_timeout,
        app.limits.stream_replay_bytes,
    ) == (3, 4, 0.5, 99)
    for bad in (
        {"max_streams_per_client": 0},
        {"max_downlinks": -1},
        {"stream_replay_bytes": 1.5},
        {"stream_write_timeout": 0},
        {"stream_write_timeout": float("inf")},
        {"max_downlinks": True},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Limits(**bad)


# --- max_streams_per_client ----------------------------------------------------------------
def test_a_start_beyond_max_streams_per_client_is_a_429_and_a_finished_run_frees_its_place():
    app, stream_id, closed = endless_app(max_streams_per_client=3)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            handles = [await downlink.start(stream_id, n=n, extra=MARKER) for n in (1, 2, 3)]
            refused = await post(client, f"/_flash/stream/{stream_id}", start_body(downlink.token, n=4, rows=MARKER))
            live_at_refusal = len(app.stream_runs)
            await downlink.close(handles[0])
            await wait_until(lambda: closed == [1])
            fourth = await downlink.start(stream_id, n=4)  # a closed run no longer counts
            again = await post(client, f"/_flash/stream/{stream_id}", start_body(downlink.token, n=5))
            # Another downlink (another browser) has its own allowance.
            async with Downlink(client) as other:
                await other.start(stream_id, n=6)
            return refused, live_at_refusal, fourth, again

    (status, answer), live, fourth, (status_again, _) = run(go())
    assert status == 429 and status_again == 429
    assert_error_body(answer, 429, "3", "max_streams_per_client")
    assert live == 3, "the refused start ran nothing"
    assert fourth


def test_finished_runs_kept_for_resuming_do_not_count():
    app, stream_id, _ = endless_app(max_streams_per_client=2, stream_resume_window=30)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            for _ in range(5):
                await downlink.finished(await downlink.start(stream_id, n=0))
            await wait_until(lambda: len(app.stream_runs) == 0)
            kept = len(app.stream_runs.get(downlink.token.split(".")[0]).runs)
            return kept, [await downlink.start(stream_id, n=n) for n in (1, 2)]

    kept, handles = run(go())
    assert kept == 5 and len(handles) == 2


def test_private_lines_count_too():
    app, stream_id, _ = endless_app(max_streams_per_client=2)

    async def go():
        client = app.server.test_client()
        await setup(client)
        token = app.stream_signer.new_downlink()[1]  # as another worker's downlink would be
        path = f"/_flash/stream/{stream_id}"
        async with Downlink(client, path=path, body=start_body(token, n=1)) as line:
            assert line.private
            second = await post(client, path, start_body(token, n=2))  # joins the private line
            third = await post(client, path, start_body(token, n=3, rows=MARKER))
            return second, third

    (status2, answer2), (status3, answer3) = run(go())
    assert status2 == 200 and set(answer2) == {"run"}
    assert status3 == 429
    assert_error_body(answer3, 429, "max_streams_per_client")


# --- max_downlinks -------------------------------------------------------------------------
def test_a_new_downlink_beyond_max_downlinks_is_a_503_with_retry_after_and_old_ones_work_on():
    app, stream_id, _ = endless_app(max_downlinks=2, stream_resume_window=0.2)

    async def refused_open(client, body):
        response = await asyncio.wait_for(client.post("/_flash/downlink", data=json.dumps(body).encode(), headers=JSON), 5)
        return response.status_code, response.headers.get("Retry-After"), await response.get_json()

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as first:
            async with Downlink(client) as second:
                full = await refused_open(client, {"downlink": None, "runs": {}, "x": MARKER})
                handle = await first.start(stream_id, n=1)  # existing downlinks keep working
                await first.until(lambda ms: len(ms) >= 3, handle)
                private = await post(client, f"/_flash/stream/{stream_id}", start_body(app.stream_signer.new_downlink()[1]))
            await second.cut()
            # A reconnect of a downlink held here is no new downlink: it resumes at the limit.
            async with Downlink(client, first.token, {handle: 0}) as resumed:
                was_resumed = resumed.resumed
                await wait_until(lambda: len(app.stream_runs.downlinks) == 1)  # `second` expired
                async with Downlink(client) as third:
                    opened_later = bool(third.token)
        return full, private, was_resumed, opened_later

    (status, retry, answer), (private_status, private_answer), was_resumed, opened_later = run(go())
    assert status == 503 and retry == "1"  # the resume window (0.2 s) rounded up
    assert_error_body(answer, 503, "2", "max_downlinks")
    assert private_status == 503, "a private line is a downlink too"
    assert_error_body(private_answer, 503, "max_downlinks")
    assert was_resumed and opened_later


# --- stream_replay_bytes -------------------------------------------------------------------
class _Sink:
    def __init__(self):
        self.sent = []

    async def deliver(self, chunk):
        self.sent.append(chunk)


def test_the_replay_buffer_is_bounded_in_bytes_and_keeps_the_newest_message_whatever_its_size():
    async def go():
        stream_run = StreamRun("r", "r.sig", "s", _Sink(), replay_size=100, replay_bytes=1000)
        for i in range(10):
            await stream_run.publish(RunMessage("props", "%03d" % i + "x" * 295))  # 300 bytes of JSON each
        bounded = list(range(stream_run.replay.first_seq, stream_run.seq + 1))
        await stream_run.publish(RunMessage("props", "y" * 4998))
        big = list(range(stream_run.replay.first_seq, stream_run.seq + 1))
        return stream_run, bounded, big

    stream_run, bounded, big = run(go())
    assert bounded == [8, 9, 10], "the last 3 x 300 bytes fit in 1000"
    assert big == [11] and len(stream_run.replay) == 1 and stream_run.can_resume(10)
    assert stream_run.replay_after(10) == [stream_run.downlink.sent[-1]], "replayed as it was sent"
    assert not stream_run.can_resume(9), "what left the buffer cannot be replayed"
    assert len(stream_run.downlink.sent) == 11, "every message is still sent live"


def test_a_resume_that_needs_a_message_dropped_for_its_bytes_is_gone():
    app = make_app(stream_replay_bytes=2000, stream_resume_window=5)
    closed = []

    @app.event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def big(n, rows):
        try:
            for i in range(10):
                yield stream_props("out", {"children": f"{i} {'x' * 500}"})
            await asyncio.sleep(30)
        finally:
            closed.append(n)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as first:
            handle = await first.start(big.stream_id)
            await first.until(lambda ms: len(ms) >= 10, handle)
            await first.cut()
        async with Downlink(client, first.token, {handle: 9}) as second:
            tail = await second.until(lambda ms: len(ms) >= 1, handle)
            await second.cut()
        async with Downlink(client, first.token, {handle: 2}) as third:
            gone = await third.until(lambda ms: len(ms) >= 1, handle)
            await wait_until(lambda: closed)
        return tail, gone

    tail, gone = run(go())
    assert [(m.event, m.seq) for m in tail] == [("props", 10)]
    assert [(m.event, m.seq) for m in gone] == [("gone", 2)]
    assert closed == [1], "the run that cannot be resumed is closed; the page starts it over"


# --- stream_write_timeout ------------------------------------------------------------------
class Server:
    """The ASGI side of one downlink response: `send` takes `takes` body chunks (each after
    `delay` seconds), then blocks forever, as a server's send does once the TCP window is full."""

    def __init__(self, takes=10**9, delay=0.0, swallow=None):
        self.takes, self.delay = takes, delay
        self.swallow = swallow  # a future: a server that swallows the cancel waits for it instead
        self.bodies = 0
        self.cancelled = False

    async def receive(self):
        await asyncio.Future()  # the client never disconnects

    async def send(self, message):
        if message["type"] != "http.response.body":
            return
        if self.bodies >= self.takes:
            try:
                await asyncio.Future()
            except asyncio.CancelledError:
                self.cancelled = True
                if self.swallow is None:
                    raise
                await self.swallow  # as a server closing a dead socket may (see quart_events)
                return
        await asyncio.sleep(self.delay)
        self.bodies += 1


def response_app(**kwargs):
    app, stream_id, closed = endless_app(stream_resume_window=0.1, **kwargs)
    return app, stream_id, closed


async def respond(app, server):
    """Open a downlink on the direct path's response writer, with `server` as the ASGI server."""
    downlink, opening = await open_downlink(app, b'{"downlink": null, "runs": {}}')
    task = asyncio.ensure_future(send_downlink(app, downlink, opening, server.receive, server.send))
    await wait_until(lambda: downlink.listener is not None)
    return downlink, task


def test_a_reader_that_stops_reading_is_cut_and_its_runs_end_after_the_resume_window():
    # A 30 s heartbeat: the write check must not wait for the next heartbeat.
    app, stream_id, closed = response_app(stream_write_timeout=0.3, stream_heartbeat=30)

    async def go():
        client = app.server.test_client()
        await setup(client)
        server = Server(takes=3)
        downlink, task = await respond(app, server)
        status, answer = await post(client, f"/_flash/stream/{stream_id}", start_body(downlink.token, rows=100))
        assert status == 200, answer
        listener = downlink.listener
        await asyncio.wait_for(task, 5)  # the response ends (no exception) once the write is cut
        detached = downlink.listener is None
        await wait_until(lambda: closed and len(app.stream_runs) == 0 and not app.stream_runs.downlinks)
        return server, listener, detached, task.cancelled(), task.cancelling()

    server, listener, detached, task_cancelled, cancelling = run(go())
    assert listener.stalled and detached
    assert server.cancelled and not task_cancelled, "the blocked send was abandoned, the response ended cleanly"
    assert cancelling == 0, "our own cancel is taken back: the server's task is not left cancelling"
    assert server.bodies == 3, "nothing more was written after the reader stopped"
    assert closed == [1], "the generator held by back-pressure ended (its finally ran)"


def test_runs_end_even_when_the_server_swallows_the_cancel_of_its_blocked_send():
    app, stream_id, closed = response_app(stream_write_timeout=0.3)

    async def go():
        client = app.server.test_client()
        await setup(client)
        server = Server(takes=3, swallow=asyncio.get_running_loop().create_future())
        downlink, task = await respond(app, server)
        await post(client, f"/_flash/stream/{stream_id}", start_body(downlink.token))
        ended = bool(await wait_until(lambda: bool(closed) and not app.stream_runs.downlinks))
        stuck = not task.done()
        server.swallow.set_result(None)  # the server's send returns at last
        finished = bool(await wait_until(task.done))
        task.cancel()
        return ended, stuck, finished, server.bodies

    ended, stuck, finished, bodies = run(go())
    assert stuck, "the response task is still inside the server's send"
    assert ended and closed == [1], "the downlink let go of its runs anyway"
    assert finished and bodies == 3, "the response then ends without writing anything more"


def test_idle_and_slow_but_reading_downlinks_are_not_cut():
    app, stream_id, closed = response_app(stream_write_timeout=0.2, stream_heartbeat=0.05)

    async def go():
        client = app.server.test_client()
        await setup(client)
        idle_server, slow_server = Server(), Server(delay=0.05)  # each write well under the timeout
        idle, idle_task = await respond(app, idle_server)
        slow, slow_task = await respond(app, slow_server)
        await post(client, f"/_flash/stream/{stream_id}", start_body(slow.token))
        await asyncio.sleep(1.0)  # five write timeouts
        state = (idle.listener, slow.listener, idle_server.bodies, slow_server.bodies, len(app.stream_runs), list(closed))
        idle_task.cancel()
        slow_task.cancel()
        await asyncio.gather(idle_task, slow_task, return_exceptions=True)
        return state

    idle_listener, slow_listener, idle_bodies, slow_bodies, live, closed_then = run(go())
    assert idle_listener is not None and not idle_listener.stalled
    assert slow_listener is not None and not slow_listener.stalled
    assert idle_bodies >= 3, "heartbeats flowed"
    assert slow_bodies >= 3 and live == 1 and closed_then == []


def test_a_stall_is_judged_per_write_not_per_response():
    """Many quick writes add up to far more than the timeout: only one long write counts."""
    listener_timeout = 0.2
    app, stream_id, _ = response_app(stream_write_timeout=listener_timeout, stream_heartbeat=30)

    async def go():
        client = app.server.test_client()
        await setup(client)
        server = Server(delay=0.02)
        downlink, task = await respond(app, server)
        await post(client, f"/_flash/stream/{stream_id}", start_body(downlink.token))
        await asyncio.sleep(listener_timeout * 4)
        listener = downlink.listener
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return listener, server.bodies

    listener, bodies = run(go())
    assert listener is not None and not listener.stalled and bodies >= 5


def test_a_quart_response_is_cut_the_same_way():
    """The Quart path's body (`quart_events`) runs in the task that writes; a stalled write cancels
    that task (as Quart does on a disconnect) and the body detaches."""
    from flash.streaming.wire.endpoint import quart_events

    app, stream_id, closed = response_app(stream_write_timeout=0.3, stream_heartbeat=30)

    async def go():
        client = app.server.test_client()
        await setup(client)
        downlink, opening = await open_downlink(app, b'{"downlink": null, "runs": {}}')
        written = []

        async def quart_writer():
            body = quart_events(app, downlink, opening)
            try:
                async for chunk in body:
                    written.append(chunk)
                    if len(written) >= 3:
                        await asyncio.Future()  # the server's send never returns
            finally:
                await body.aclose()

        task = asyncio.ensure_future(quart_writer())
        await wait_until(lambda: downlink.listener is not None)
        await post(client, f"/_flash/stream/{stream_id}", start_body(downlink.token))
        await asyncio.gather(asyncio.wait_for(asyncio.shield(task), 5), return_exceptions=True)
        await wait_until(lambda: closed and not app.stream_runs.downlinks)
        return task.cancelled(), len(written), downlink.listener

    cancelled, written, listener = run(go())
    assert cancelled and written == 3 and listener is None
    assert closed == [1]


def test_the_write_check_fires_with_the_heartbeat_timer_when_writes_are_quick():
    """No new timer per write: an idle listener wakes once per min(heartbeat, timeout)."""
    from flash.streaming.wire.listener import Listener

    async def go():
        loop = asyncio.get_running_loop()
        listener = Listener()
        listener.start_heartbeat(loop, every=15.0, timeout=30.0)
        first = listener._timer.when() - loop.time()
        listener.stop_heartbeat()
        quick = Listener()
        quick.start_heartbeat(loop, every=15.0, timeout=1.0)
        second = quick._timer.when() - loop.time()
        quick.stop_heartbeat()
        return first, second

    first, second = run(go())
    assert 14 < first <= 15, "the default check rides the heartbeat timer"
    assert 0.5 < second <= 1.0
