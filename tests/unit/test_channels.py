"""Channels in one process without shared storage: per-subscriber bounded queues (a slow
subscriber drops its own oldest messages, never delays the others), the shared producer that
runs only while somebody watches, and an event_callback stream fed by a publish from a callback."""

import asyncio

import pytest

from flash import Channel, Flash, Input, Output, State, event_callback, html, publish, stream_props, subscribe
from flash import channels as channels_module
from tests.conftest import callback_body, dep, run
from tests.streaming.downlink_client import Downlink, post, props_values, setup, wait_until


@pytest.fixture(autouse=True)
def fresh_channels():
    channels_module._NAMED.clear()
    channels_module._PRODUCERS.clear()
    yield
    assert not channels_module._HUBS, "every hub stopped with its last subscriber"


def plain_app():
    app = Flash(__name__)
    app.layout = html.Div()
    return app


def test_a_publish_reaches_every_subscriber_in_order_and_a_slow_one_only_loses_its_own_oldest():
    app = plain_app()

    async def go():
        feed = Channel("feed", queue=3)
        fast, slow = feed.subscribe(app), feed.subscribe(app)
        got = []
        for i in range(1, 6):
            await feed.publish(i, app=app)
            got.append(await fast.__anext__())  # the fast one keeps up
        drained = [await slow.__anext__() for _ in range(3)]
        fast.close(), slow.close()
        return got, drained, slow.dropped, fast.dropped

    got, drained, dropped, fast_dropped = run(go())
    assert got == [1, 2, 3, 4, 5] and fast_dropped == 0
    assert drained == [3, 4, 5] and dropped == 2, "bounded: the newest 3, the 2 oldest dropped"


def test_latest_keeps_only_the_newest_message():
    app = plain_app()

    async def go():
        sub = Channel("state", latest=True).subscribe(app)
        for i in range(10):
            await Channel("state").publish(i, app=app)
        first = await sub.__anext__()
        sub.close()
        return first, sub.dropped

    assert run(go()) == (9, 9)


def test_the_producer_runs_once_while_somebody_watches_and_stops_after_the_last_leaves():
    app = plain_app()
    ticks = Channel("ticks")
    runs = {"started": 0, "stopped": 0}

    @ticks.producer
    async def produce():
        runs["started"] += 1
        try:
            i = 0
            while True:
                i += 1
                yield i
                await asyncio.sleep(0.01)
        finally:
            runs["stopped"] += 1

    async def go():
        subs = [ticks.subscribe(app) for _ in range(5)]
        firsts = [await sub.__anext__() for sub in subs]
        for sub in subs[:-1]:
            sub.close()
        running_with_one = runs["stopped"] == 0
        subs[-1].close()
        await wait_until(lambda: runs["stopped"] == 1)
        return firsts, running_with_one

    firsts, running_with_one = run(go())
    assert runs == {"started": 1, "stopped": 1}, "one producer for five watchers, stopped after the last"
    assert running_with_one and all(isinstance(n, int) for n in firsts)


def test_a_producer_must_be_an_async_generator_and_a_channel_needs_a_name():
    with pytest.raises(TypeError, match="async generator"):
        Channel("x").producer(lambda: None)
    with pytest.raises(ValueError, match="name"):
        Channel("")
    with pytest.raises(ValueError, match="queue"):
        Channel("q", queue=0)


def test_a_callback_publishes_and_every_watching_stream_shows_it():
    app = Flash(__name__, suppress_callback_exceptions=True)
    app.layout = html.Div(
        [html.Button(id="go"), html.Div(id="out"), html.Div(id="rows"), html.Button(id="send"), html.Div(id="sent")]
    )

    @event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def watch(_n, _rows):
        async for message in subscribe("news"):
            yield stream_props("out", {"children": message})

    @app.callback(Output("sent", "children"), Input("send", "n_clicks"))
    async def send(n):
        await publish("news", f"news {n}")
        return n

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as page:
            one = await page.start(watch.stream_id, n=1)
            two = await page.start(watch.stream_id, n=2)
            hubs = channels_module._HUBS
            await wait_until(lambda: sum(len(h.subscribers) for h in hubs.values()) == 2)
            for n in (1, 2):
                status, _ = await post(
                    client, "/_dash-update-component", callback_body("sent.children", [dep("send", "n_clicks", n)])
                )
                assert status == 200
            seen = [await page.until(lambda ms: len(ms) >= 2, handle) for handle in (one, two)]
            await page.close(one, two)
            await page.finished(one), await page.finished(two)
        return [props_values(ms) for ms in seen]

    assert run(go()) == [["news 1", "news 2"], ["news 1", "news 2"]]
