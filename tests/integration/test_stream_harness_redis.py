"""The stream test harness on the stream bus: two workers (apps) on one real redis-server, the
downlink on one and the run on the other; resume on the other worker with exact replay, cancel
across workers, and the worker running the run stopped (crashed or shut down)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from flash import Flash, Input, RedisSharedStorage, State, html, stream_props
from flash.streaming.bus.liveness import WORKER_LOST
from tests.conftest import run

SECRET = "stream-harness-redis-secret-0123456789"


def workers(redis_url: str, restart: bool = False) -> tuple[Flash, Flash, list[int]]:
    prefix, closed = f"harness{uuid.uuid4().hex[:8]}", []

    def worker() -> Flash:
        app = Flash(
            __name__,
            secret_key=SECRET,
            stream_resume_window=2,
            shared_storage=RedisSharedStorage(url=redis_url, key_prefix=prefix),
        )
        app.layout = html.Div([html.Button(id="go"), html.Div(id="out"), html.Div(id="rows")])

        @app.event_callback(Input("go", "n_clicks"), State("rows", "children"), restart_on_worker_loss=restart)
        async def ticks(n, rows):
            i = 0
            try:
                while rows is None or i < rows:
                    i += 1
                    yield stream_props("out", {"children": i})
                    await asyncio.sleep(0.01)
            finally:
                closed.append(i)

        return app

    return worker(), worker(), closed


def test_a_run_on_one_worker_resumes_on_the_other_and_a_cancel_crosses_workers(redis_url, flash_stream_client):
    a, b, closed = workers(redis_url)

    async def go():
        async with flash_stream_client(a, b) as client:
            finite = await client.start("ticks", rows=40, worker=1)  # B runs it, A holds the downlink
            await finite.until(5)
            await client.drop()
            before = finite.frames
            resumed = await client.resume(worker=1)  # the page reconnects to B
            frames = await finite.finished()
            endless = await client.start("ticks", worker=0)
            await endless.until(3)
            answer = await client.cancel(endless, worker=0)
            return before, resumed, frames, answer, await endless.finished(), client.holder

    before, resumed, frames, answer, cancelled, holder = run(go())
    assert resumed is True and holder == 1 and len(before) >= 5
    assert frames[: len(before)] == before
    frames.assert_complete()
    assert frames.values("out.children") == list(range(1, 41)), "nothing lost, nothing repeated"
    assert answer == {"closed": 1, "forwarded": 0, "unknown": []}
    assert cancelled.closed and 40 in closed


@pytest.mark.parametrize("how", ["crash", "crash, restart_on_worker_loss", "graceful"])
def test_stopping_the_worker_that_runs_a_stream_ends_it_on_the_page(redis_url, flash_stream_client, how):
    a, b, closed = workers(redis_url, restart="restart" in how)

    async def go():
        async with flash_stream_client(a, b) as client:
            endless = await client.start("ticks", worker=1)
            await endless.until(3)
            await client.stop_worker(endless, graceful=how == "graceful")
            frames = await endless.finished()
            with pytest.raises(RuntimeError, match="Worker 1 was stopped"):
                await client.start("ticks", worker=1)
            return frames

    frames = run(go())
    frames.assert_complete()
    if how == "crash":
        assert frames.last.event == "error" and frames.last.data == {"message": WORKER_LOST, "handled": False}
    else:
        assert frames.last.event == "gone", "the page starts the run over on a live worker"
    assert len(closed) == 1, "the generator's finally ran on the stopped worker"
