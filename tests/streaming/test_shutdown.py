"""Graceful shutdown in-process (real servers: tests/integration/test_graceful_shutdown.py): the
stop ends each open downlink with a final `shutdown` event, closes every run (its `finally` runs),
refuses new downlinks (503) and starts (409), and chains in front of the server's signal handler."""

import asyncio
import os
import signal

from flash import Input, State, event_callback, stream_props
from flash.server.shutdown import SHUTDOWN_EVENT
from tests.conftest import run
from tests.streaming.downlink_client import Downlink, make_app, post, setup, start_body, wait_until


def endless_app(closed):
    app = make_app(shutdown_grace=2)

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def endless(n, _rows):
        try:
            while True:
                yield stream_props("out", {"children": n})
                await asyncio.sleep(0.01)
        finally:
            await asyncio.sleep(0.05)  # the grace waits for an async cleanup
            closed.append(n)

    return app, endless


def test_shutdown_sends_a_final_event_closes_runs_and_refuses_new_streams():
    closed = []
    app, endless = endless_app(closed)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            handles = [await downlink.start(endless.stream_id, n=n) for n in (1, 2)]
            await downlink.until(lambda ms: len(ms) >= 4)
            app._shutdown.begin("test")
            await downlink._read_until(lambda events: events[-1]["event"] == "shutdown")
            refused_start = await post(client, f"/_flash/stream/{endless.stream_id}", start_body(downlink.token))
            refused_open = await post(client, "/_flash/downlink", {"downlink": None, "runs": {}})
            await app._shutdown._stopped()  # the lifespan shutdown
            return handles, refused_start, refused_open, len(app.stream_runs), downlink.raw

    handles, refused_start, refused_open, live, raw = run(go())
    assert len(handles) == 2
    assert sorted(closed) == [1, 2], "every run's finally ran before the lifespan shutdown returned"
    assert live == 0
    assert SHUTDOWN_EVENT in raw
    assert refused_start[0] == 409 and set(refused_start[1]) == {"error", "status"}
    assert refused_open[0] == 503


def test_the_servers_signal_handler_still_runs_after_flash_begins():
    closed = []
    app, endless = endless_app(closed)
    seen = []

    def servers_handler(signum, _frame):
        seen.append(signum)

    original = signal.signal(signal.SIGTERM, servers_handler)

    async def go():
        await app._shutdown._serving()  # lifespan startup
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            await downlink.start(endless.stream_id)
            await downlink.until(lambda ms: len(ms) >= 2)
            os.kill(os.getpid(), signal.SIGTERM)
            await downlink._read_until(lambda events: events[-1]["event"] == "shutdown")
            await wait_until(lambda: closed)
        await app._shutdown._stopped()
        return signal.getsignal(signal.SIGTERM)

    try:
        restored = run(go())
    finally:
        signal.signal(signal.SIGTERM, original)
    assert seen == [signal.SIGTERM], "the server's own handler ran"
    assert closed == [1]
    assert restored is servers_handler, "the lifespan shutdown put the server's handler back"


def test_serving_again_after_a_shutdown_accepts_streams():
    closed = []
    app, endless = endless_app(closed)

    async def go():
        app._shutdown.begin("test")
        await app._shutdown._stopped()
        await app._shutdown._serving()
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            return await downlink.start(endless.stream_id)

    assert run(go())
