"""A start on a worker that does not hold the browser's downlink (another worker does, or it
expired) is answered as a private line: its own SSE response carrying the runs this worker starts
for that downlink, on the direct path and through Quart."""

import asyncio

import pytest

from flash import Input, State, stream_props
from tests.conftest import run
from tests.streaming.downlink_client import Downlink, make_app, post, props_values, run_id, setup, start_body, wait_until


def _plain(app):
    pass


def _hooked(app):
    @app.server.before_request
    async def hook():
        pass


def stream_app(register, **kwargs):
    app = make_app(**kwargs)
    register(app)
    finished = []

    @app.event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def rows_then_wait(n, rows):
        try:
            for i in range(rows):
                await asyncio.sleep(0)
                yield stream_props("out", {"children": f"{n}:{i}"})
            if n == 9:
                await asyncio.sleep(30)
        finally:
            finished.append(n)

    return app, rows_then_wait.stream_id, finished


def foreign_token(app):
    """A token this app signed for a downlink it does not hold (as another worker's would be)."""
    return app.stream_signer.new_downlink()[1]


@pytest.mark.direct_path
@pytest.mark.parametrize("register", [_plain, _hooked])
def test_a_start_without_the_downlink_here_answers_a_private_line(register):
    app, stream_id, _ = stream_app(register)

    async def go():
        client = app.server.test_client()
        await setup(client)
        direct = app.server.asgi_app
        assert direct.applies(direct.routes["stream"]) is (register is _plain)
        token = foreign_token(app)
        path = f"/_flash/stream/{stream_id}"
        async with Downlink(client, path=path, body=start_body(token, n=1, rows=3)) as line:
            messages = await line.until(lambda ms: bool(ms) and ms[-1].event == "done")
            handle = line.started()[0]
            # A second start for the same browser joins the open line and answers JSON.
            status, answer = await post(client, path, start_body(token, n=2, rows=2))
            second = await line.finished(answer["run"])
            return token, line, handle, messages, status, answer, second

    token, line, handle, messages, status, answer, second = run(go())
    assert line.private is True and line.resumed is False and line.token == token
    assert line.started() == [handle] and handle.count(".") == 1
    assert {m.run for m in messages} == {run_id(handle)}
    assert [(m.event, m.seq) for m in messages] == [("props", 1), ("props", 2), ("props", 3), ("done", 4)]
    assert props_values(messages) == ["1:0", "1:1", "1:2"]
    assert status == 200 and set(answer) == {"run"}
    assert [m.seq for m in second] == [1, 2, 3] and props_values(second) == ["2:0", "2:1"]
    assert line.conn.headers["Content-Type"] == "text/event-stream; charset=utf-8"


@pytest.mark.parametrize("register", [_plain, _hooked])
def test_runs_on_a_private_line_close_and_end_with_it(register):
    app, stream_id, finished = stream_app(register, stream_resume_window=30)

    async def go():
        client = app.server.test_client()
        await setup(client)
        token = foreign_token(app)
        path = f"/_flash/stream/{stream_id}"
        async with Downlink(client, path=path, body=start_body(token, n=9, rows=1)) as line:
            first = line.started()[0]
            await line.until(lambda ms: len(ms) >= 1, first)
            _, answer = await post(client, path, start_body(token, n=9, rows=1))
            second = answer["run"]
            await line.until(lambda ms: len(ms) >= 1, second)
            closed = await post(client, "/_flash/close", {"downlink": token, "runs": [first]})
            ended = await line.finished(first)
            await wait_until(lambda: len(finished) == 1)
            live = len(app.stream_runs)
            await line.cut()
        # Nobody resumes a private line: its runs close when it goes, not after the window.
        await wait_until(lambda: len(finished) == 2 and not app.stream_runs.downlinks)
        return closed, ended, live, list(finished), len(app.stream_runs), dict(app.stream_runs.downlinks)

    closed, ended, live, finished_runs, live_after, downlinks = run(go())
    assert closed == (200, {"closed": 1, "unknown": []})
    assert ended[-1].event == "done" and ended[-1].data == {"closed": True}
    assert live == 1
    assert finished_runs == [9, 9] and live_after == 0 and downlinks == {}


def test_a_run_handle_unknown_on_this_worker_is_reported_by_close():
    app, stream_id, finished = stream_app(_plain)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            mine = await downlink.start(stream_id, n=9, rows=1)
            await downlink.until(lambda ms: len(ms) >= 1, mine)
            _, elsewhere = app.stream_signer.new_run(downlink.token.split(".")[0])  # another worker's run
            answer = await downlink.close(elsewhere, mine)
            await wait_until(lambda: finished)
            return elsewhere, answer, list(finished)

    elsewhere, answer, finished_runs = run(go())
    assert answer == (200, {"closed": 1, "unknown": [elsewhere]})
    assert finished_runs == [9]
