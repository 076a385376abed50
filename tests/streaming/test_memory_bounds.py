"""Bounded memory per worker, in-process (issue 22): live runs per worker (503 + Retry-After) and
per client address over all its downlinks (429), downlinks per address (429), a start body's own
limit (413) and the start bytes all live runs hold (503), back-pressure in bytes, close requests
capped and de-duplicated, channel names that leave with their last use. Against a real server
with hostile clients all at once: tests/integration/test_hostile_clients.py."""

import asyncio
import gc
import json

import pytest

from flash import Channel, Flash, Input, State, stream_props
from flash import channels as channels_module
from flash.server.limits import Limits
from flash.streaming.wire.admission import check_room_for_downlink, check_room_for_run
from flash.streaming.wire.direct import send_downlink
from flash.streaming.wire.endpoint import open_downlink
from tests.conftest import run
from tests.streaming.downlink_client import JSON, Downlink, make_app, post, setup, start_body, wait_until
from tests.streaming.test_limits import MARKER, Server, assert_error_body, endless_app


def elsewhere(address):
    return {"scope_base": {"client": (address, 40000)}}


async def post_from(client, path, body, address):
    raw = json.dumps(body).encode()
    response = await asyncio.wait_for(client.post(path, data=raw, headers=JSON, **elsewhere(address)), 5)
    return response.status_code, response.headers.get("Retry-After"), await response.get_json()


# --- options -------------------------------------------------------------------------------
def test_defaults_env_and_bad_values(monkeypatch):
    limits = Limits()
    assert (
        limits.max_streams,
        limits.max_streams_per_address,
        limits.max_downlinks_per_address,
        limits.max_stream_start_bytes,
        limits.stream_start_budget,
        limits.stream_buffer_bytes,
    ) == (2_000, 1_000, 2_500, 1_048_576, 16 * 1_048_576, 65_536)
    monkeypatch.setenv("FLASH_MAX_STREAMS", "7")
    monkeypatch.setenv("FLASH_MAX_DOWNLINKS", "9")
    monkeypatch.setenv("FLASH_STREAM_BUFFER_BYTES", "1000")
    app = Flash(__name__, max_streams_per_address=3)
    assert (
        app.limits.max_streams,
        app.limits.max_downlinks,
        app.limits.max_streams_per_address,
        app.stream_runs.buffer_bytes,
    ) == (7, 9, 3, 1000)
    assert Flash(__name__, max_streams=5).limits.max_streams == 5, "an argument wins over the environment"
    monkeypatch.setenv("FLASH_MAX_STREAMS", "lots")
    with pytest.raises(ValueError, match="FLASH_MAX_STREAMS"):
        Limits()
    monkeypatch.delenv("FLASH_MAX_STREAMS")
    for bad in ({"max_streams": 0}, {"max_stream_start_bytes": -1}, {"stream_buffer_bytes": 1.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Limits(**bad)


def test_the_documented_bound_at_defaults():
    """docs/streaming-protocol.md states this figure; it must follow the code's defaults."""
    assert round(Limits().memory_bound() / 2**20) == 1750


# --- max_streams (per worker) ----------------------------------------------------------------
def test_a_start_beyond_max_streams_is_a_503_with_retry_after_and_running_streams_go_on():
    app, stream_id, closed = endless_app(max_streams=3, stream_resume_window=0.2)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as first, Downlink(client) as second:
            handles = [await first.start(stream_id, n=1), await first.start(stream_id, n=2), await second.start(stream_id, n=3)]
            status, retry, answer = await post_from(
                client, f"/_flash/stream/{stream_id}", start_body(second.token, n=4, rows=MARKER), "10.0.0.9"
            )
            before = len(second.messages(handles[2]))
            await second.until(lambda ms: len(ms) > before + 3, handles[2])  # others go on
            await first.close(handles[0])
            await wait_until(lambda: closed == [1])
            fourth = await second.start(stream_id, n=4)  # room again
            return status, retry, answer, fourth

    status, retry, answer, fourth = run(go())
    assert status == 503 and retry == "1"
    assert_error_body(answer, 503, "3", "max_streams")
    assert fourth


# --- per client address ----------------------------------------------------------------------
def test_minting_downlinks_does_not_get_around_max_streams_per_address():
    app, stream_id, _ = endless_app(max_streams_per_client=2, max_streams_per_address=3)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as one, Downlink(client) as two, Downlink(client) as three:
            await one.start(stream_id, n=1)
            await one.start(stream_id, n=2)
            await two.start(stream_id, n=3)
            refused = await post(client, f"/_flash/stream/{stream_id}", start_body(three.token, n=4, rows=MARKER))
            live = len(app.stream_runs)
            check_room_for_run(app, None, "10.0.0.7", 100)  # another address has its own allowance
            return refused, live

    (status, answer), live = run(go())
    assert status == 429 and live == 3
    assert_error_body(answer, 429, "3", "max_streams_per_address")


def test_a_new_downlink_beyond_max_downlinks_per_address_is_a_429_with_retry_after():
    app, _, _ = endless_app(max_downlinks_per_address=2, stream_resume_window=0.2)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client), Downlink(client):  # the test client's address: ""
            refused = await post_from(client, "/_flash/downlink", {"downlink": None, "runs": {}, "x": MARKER}, "")
            counted = app.stream_runs.downlinks_of("")
            check_room_for_downlink(app, "10.0.0.8")  # another address is not affected
        await wait_until(lambda: not app.stream_runs.downlinks)
        return refused, counted, dict(app.stream_runs.by_address)

    (status, retry, answer), counted, after = run(go())
    assert status == 429 and retry == "1"
    assert_error_body(answer, 429, "2", "max_downlinks_per_address")
    assert counted == 2 and after == {}, "an address leaves the registry with its last downlink"


# --- start bodies ----------------------------------------------------------------------------
def test_a_start_body_over_max_stream_start_bytes_is_a_413_and_callbacks_keep_their_limit():
    app, stream_id, _ = endless_app(max_stream_start_bytes=2000)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            big = await post(client, f"/_flash/stream/{stream_id}", start_body(downlink.token, pad=MARKER * 200))
            small = await downlink.start(stream_id, pad="x" * 1000)
            callback = await client.post("/_dash-update-component", data=json.dumps({"pad": "x" * 5000}).encode(), headers=JSON)
            return big, small, callback.status_code

    (status, answer), small, callback_status = run(go())
    assert status == 413
    assert_error_body(answer, 413, "2000", "max_stream_start_bytes")
    assert small
    assert callback_status == 400, "an ordinary callback body of 5 KB is read (and refused for its shape)"


def test_the_start_bytes_of_live_runs_are_bounded_and_given_back_when_runs_end():
    app, stream_id, closed = endless_app(stream_start_budget=5000, max_stream_start_bytes=3000)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            first = await downlink.start(stream_id, n=1, pad="x" * 2000)
            await downlink.start(stream_id, n=2, pad="x" * 2000)
            held = app.stream_runs.start_bytes
            refused = await post_from(client, f"/_flash/stream/{stream_id}", start_body(downlink.token, n=3, pad="x" * 2000), "")
            await downlink.close(first)
            await wait_until(lambda: closed == [1] and app.stream_runs.start_bytes < held)
            again = await downlink.start(stream_id, n=4, pad="x" * 2000)
            return held, refused, again

    held, (status, retry, answer), again = run(go())
    assert 4000 < held <= 5000
    assert status == 503 and retry
    assert_error_body(answer, 503, "5000", "stream_start_budget")
    assert again


# --- back-pressure in bytes ------------------------------------------------------------------
def test_a_reader_that_stops_reading_holds_at_most_the_buffer_bytes_plus_a_message_per_run():
    app = make_app(stream_buffer_bytes=50_000, stream_write_timeout=30)
    yielded = []

    @app.event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def big(n, rows):
        while True:
            yielded.append(n)
            yield stream_props("out", {"children": "x" * 20_000})

    async def go():
        client = app.server.test_client()
        await setup(client)
        server = Server(takes=1)  # takes `hello`, then its send blocks: the TCP window is full
        downlink, opening = await open_downlink(app, b'{"downlink": null, "runs": {}}')
        task = asyncio.ensure_future(send_downlink(app, downlink, opening, server.receive, server.send))
        await wait_until(lambda: downlink.listener is not None)
        for n in (1, 2):
            await post(client, f"/_flash/stream/{big.stream_id}", start_body(downlink.token, n=n))
        await asyncio.sleep(0.5)  # plenty of turns for fast generators
        queued, count = downlink.listener.pending_bytes, len(yielded)
        await asyncio.sleep(0.3)
        still = len(yielded)
        task.cancel()
        for run_ in app.stream_runs.runs():
            run_.close()
        await asyncio.gather(task, return_exceptions=True)
        return queued, count, still

    queued, count, still = run(go())
    # One batch is stuck in the server's send (at most the buffer + a message per run); the
    # queue behind it fills to the buffer and both generators wait.
    assert queued <= 50_000 + 2 * 20_100, queued
    assert still == count, "the generators wait for the reader"
    assert count < 12, f"{count} messages of 20 KB were made for a reader that reads nothing"


# --- close requests --------------------------------------------------------------------------
def test_a_close_request_is_deduplicated_and_capped():
    """At most max(max_streams_per_client, 256) distinct handles: the hub sends bigger closes in
    batches of 256 (tests/js/hub_close.test.js), which every server takes."""
    app, stream_id, closed = endless_app(max_streams_per_client=4)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            handle = await downlink.start(stream_id, n=1)
            repeated = await post(client, "/_flash/close", {"downlink": downlink.token, "runs": [handle] * 1000})
            too_many = await post(
                client, "/_flash/close", {"downlink": downlink.token, "runs": [f"{i}.{MARKER}" for i in range(257)]}
            )
            await wait_until(lambda: closed)
            return repeated, too_many

    (status, answer), (status_many, answer_many) = run(go())
    assert status == 200 and answer == {"closed": 1, "unknown": []}, "one handle named 1,000 times is one"
    assert status_many == 400
    assert_error_body(answer_many, 400, "256", "max_streams_per_client")
    assert closed == [1]


# --- registries that shrink ------------------------------------------------------------------
@pytest.fixture
def fresh_channels():
    channels_module._NAMED.clear()
    channels_module._PRODUCERS.clear()
    yield channels_module
    channels_module._NAMED.clear()
    channels_module._PRODUCERS.clear()


def test_channel_names_leave_with_their_last_use_and_declared_ones_stay(fresh_channels):
    app = make_app()
    kept = Channel("prices", queue=5)

    @Channel("ticks", latest=True).producer
    async def ticks():
        yield 1

    async def go():
        for i in range(500):
            await fresh_channels.channel(f"chat-{i}").publish({"i": i}, app=app)  # topics made on the fly
        sub = fresh_channels.channel("chat-live").subscribe(app)
        gc.collect()
        while_subscribed = set(fresh_channels._NAMED)
        sub.close()
        del sub  # a subscription goes with the generator that iterated it
        await asyncio.sleep(0)
        gc.collect()
        return while_subscribed, set(fresh_channels._NAMED)

    while_subscribed, after = run(go())
    assert while_subscribed == {"prices", "ticks", "chat-live"}
    assert after == {"prices", "ticks"}
    assert fresh_channels.channel("ticks").latest, "a producer's channel keeps its settings"
    assert fresh_channels.channel("prices") is kept


def test_a_stopped_producer_is_owned_until_it_ends(fresh_channels):
    app = make_app()
    ended = []

    @Channel("feed").producer
    async def feed():
        try:
            while True:
                yield 1
                await asyncio.sleep(0.01)
        finally:
            await asyncio.sleep(0.05)  # a producer that takes a while to end
            ended.append(True)

    async def go():
        sub = Channel("feed").subscribe(app=app)
        await wait_until(lambda: sub._pending)
        sub.close()
        ending = len(fresh_channels._ENDING)
        await wait_until(lambda: ended and not fresh_channels._ENDING)
        return ending, len(fresh_channels._ENDING)

    ending, after = run(go())
    assert ending >= 1, "the cancelled tasks are held while they end"
    assert ended and after == 0


# --- a run keeps its inputs, not its raw start body ------------------------------------------
@pytest.mark.direct_path
def test_a_run_on_the_direct_path_does_not_keep_its_raw_start_body():
    from flash.compat.dash import context_value

    app = make_app()
    kept = []

    @app.event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def look(n, rows):
        context = context_value.get().__dict__["_request_context"]  # what `ctx` keeps for the run
        kept.append((type(context).__name__, len(getattr(context, "_body", b""))))
        yield stream_props("out", {"children": len(rows)})

    async def go():
        client = app.server.test_client()
        await setup(client)  # Dash's setup done: the direct path answers from now on
        async with Downlink(client) as downlink:
            raw = json.dumps(start_body(downlink.token, rows="x" * 100_000)).encode()
            sent = []
            chunks = [{"type": "http.request", "body": raw, "more_body": False}]

            async def receive():
                return chunks.pop(0) if chunks else await asyncio.Future()

            async def send(message):
                sent.append(message)

            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": f"/_flash/stream/{look.stream_id}",
                "raw_path": b"",
                "query_string": b"",
                "root_path": "",
                "client": ("127.0.0.1", 5000),
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(raw)).encode()),
                    (b"host", b"localhost"),
                ],
            }
            await app.server.asgi_app(scope, receive, send)
            handle = json.loads(sent[-1]["body"])["run"]
            await downlink.finished(handle)
            return kept, app.stream_runs.downlinks_of("")

    kept, _ = run(go())
    assert kept == [("DeferredRequestContext", 0)], kept


def test_the_docs_state_every_stream_limit_with_its_default_and_environment_variable():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    protocol = (root / "docs" / "streaming-protocol.md").read_text()
    options = (root / "docs" / "options.md").read_text()  # the README links to it
    deploy = (root / "docs" / "deploy.md").read_text()
    limits = Limits()
    shown = {1_048_576: "1 MiB", 16 * 1_048_576: "16 MiB", 65_536: "64 KiB", 30.0: "30 s"}
    for option in (
        "max_streams",
        "max_streams_per_client",
        "max_streams_per_address",
        "max_downlinks",
        "max_downlinks_per_address",
        "max_stream_start_bytes",
        "stream_start_budget",
        "stream_buffer_bytes",
        "stream_write_timeout",
        "stream_replay_bytes",
    ):
        value = getattr(limits, option)
        default = shown.get(value, f"{value:,}")
        env = f"FLASH_{option.upper()}"
        row = next(line for line in protocol.splitlines() if line.startswith(f"| `{option}` (`{env}`)"))
        assert default in row, (option, default, row)
        readme_row = next(line for line in options.splitlines() if line.startswith(f"| `{option}` |"))
        assert default in readme_row and env in readme_row, (option, readme_row)
    assert "**1,750 MiB**" in protocol and "~1.75 GiB" in deploy
