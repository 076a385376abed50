"""`GET /_flash/metrics` scraped during and after real runs (issue 26): the app is served in
process with its lifespan (flash.testing's StreamClient, Flash's real routes, no mocks), the
scrape goes through the same ASGI app, and Prometheus' own text parser reads it. The figures must
move as the runs do: starts up by one per run, frames and bytes up, a live run counted while it
runs and not after, each end filed under its outcome, the thread pool's wait observed."""

from __future__ import annotations

import asyncio
import math
import socket
import threading
import uuid

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client.parser import text_string_to_metric_families

from flash import Flash, Input, RedisSharedStorage, html, stream_props
from flash.testing.runner import FlashRunner
from flash.testing.stream_wire import Exchange
from flash.testing.streams import StreamClient
from tests.conftest import run
from tests.integration.cluster import RedisServer
from tests.integration.conftest import free_port
from tests.streaming.probe import _OPENER
from tests.streaming.stream_apps import request_bytes, start_body

PATHS = pytest.mark.parametrize("direct_path", [True, False], ids=["direct", "quart"])
FRAMES = 5


async def scrape(app: Flash) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the app's metrics page, keyed by (sample name, sorted labels)."""
    exchange = Exchange(app.server, "GET", app.config.routes_pathname_prefix + "_flash/metrics", None, {}, asyncio.Event())
    status, text = await exchange.answer(10)
    assert status == 200, text
    assert exchange.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def metrics_app(direct_path: bool) -> tuple[Flash, dict]:
    app = Flash(__name__, metrics=True, direct_path=direct_path)
    app.layout = html.Div([html.Button(id="go"), html.Button(id="boom"), html.Button(id="sync"), html.Div(id="out")])
    parts: dict = {"release": None}

    @app.event_callback(Input("go", "n_clicks"))
    async def ticks(n):
        for i in range(FRAMES):
            yield stream_props("out", {"children": i})
        await parts["release"].wait()  # the test scrapes while the run is live, then lets it end
        yield stream_props("out", {"children": "last"})

    @app.event_callback(Input("boom", "n_clicks"))
    async def boom(n):
        yield stream_props("out", {"children": "before"})
        raise RuntimeError("boom")

    @app.event_callback(Input("sync", "n_clicks"))
    def sync_ticks(n):
        parts["threads"].add(threading.get_ident())
        for i in range(3):
            yield stream_props("out", {"children": i})

    parts.update(ticks=ticks, boom=boom, sync=sync_ticks, threads=set())
    return app, parts


@PATHS
def test_the_figures_move_with_a_run_scraped_during_and_after_it(direct_path):
    app, parts = metrics_app(direct_path)

    async def go():
        parts["release"] = asyncio.Event()
        async with StreamClient(app) as client:
            before = await scrape(app)
            live = await client.start(parts["ticks"], n=1)
            await live.until(FRAMES)
            during = await scrape(app)
            parts["release"].set()
            frames = await live.finished()
            after = await scrape(app)
        return before, during, after, frames

    before, during, after, frames = run(go())
    assert frames.events == ["props"] * (FRAMES + 1) + ["done"]

    def delta(name, **labels):
        return value(during, name, **labels) - value(before, name, **labels)

    assert value(before, "flash_stream_runs_live") == 0
    assert value(during, "flash_stream_runs_live") == 1, "the run is live while it waits"
    assert value(during, "flash_downlinks", state="connected") == 1
    assert delta("flash_stream_runs_started_total") == 1
    assert delta("flash_stream_frames_written_total") == FRAMES, "each message written is counted once"
    assert delta("flash_stream_bytes_written_total") > 0
    assert 1 <= delta("flash_stream_writes_total")
    assert delta("flash_stream_frame_lag_seconds_count") == FRAMES, "one lag per frame written"
    assert value(during, "flash_stream_frame_lag_seconds_bucket", le="+Inf") == value(
        during, "flash_stream_frame_lag_seconds_count"
    )
    assert value(during, "flash_stream_frame_lag_seconds_sum") >= 0
    assert value(during, "flash_stream_queued_frames") == 0, "the in-process client reads everything at once"
    for outcome in ("done", "closed", "error", "gone"):
        assert delta("flash_stream_runs_ended_total", outcome=outcome) == 0, "nothing ended yet"

    assert value(after, "flash_stream_runs_live") == 0, "back to zero once the run ended"
    assert value(after, "flash_stream_runs_started_total") == 1
    assert value(after, "flash_stream_runs_ended_total", outcome="done") == 1
    assert value(after, "flash_stream_frames_written_total") == FRAMES + 2, "the last props and done"
    assert value(after, "flash_stream_bytes_written_total") > value(during, "flash_stream_bytes_written_total")
    assert value(after, "flash_stream_frame_lag_seconds_count") == FRAMES + 2


@PATHS
def test_closed_failed_and_sync_runs_are_counted_by_outcome(direct_path):
    app, parts = metrics_app(direct_path)

    async def go():
        parts["release"] = asyncio.Event()  # never set: this run is closed by the page
        async with StreamClient(app) as client:
            before = await scrape(app)
            live = await client.start(parts["ticks"], n=1)
            await live.until(FRAMES)
            closed = await live.cancel()
            failed = await client.run(parts["boom"], n=1)
            synced = await client.run(parts["sync"], n=1)
            after = await scrape(app)
        return before, after, closed, failed, synced

    before, after, closed, failed, synced = run(go())
    assert closed.closed and failed.error is not None and synced.events[-1] == "done"
    assert parts["threads"] and threading.get_ident() not in parts["threads"], "the sync generator ran in the pool"

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("flash_stream_runs_started_total") == 3
    assert delta("flash_stream_runs_ended_total", outcome="closed") == 1
    assert delta("flash_stream_runs_ended_total", outcome="error") == 1
    assert delta("flash_stream_runs_ended_total", outcome="done") == 1
    assert delta("flash_stream_runs_ended_total", outcome="gone") == 0
    assert value(after, "flash_stream_runs_live") == 0
    written = FRAMES + 1 + 2 + 3 + 1  # ticks and its `done` (closed), boom's props and error, sync's 3 and done
    assert delta("flash_stream_frames_written_total") == written
    # Each step of the sync generator (3 items, then the end) waited for a pool thread, once each.
    assert delta("flash_thread_pool_wait_seconds_count") >= 4
    assert value(after, "flash_thread_pool_wait_seconds_bucket", le="+Inf") == value(
        after, "flash_thread_pool_wait_seconds_count"
    )


def test_a_stalled_reader_shows_as_queued_bytes_then_as_a_stalled_reader_on_a_real_server():
    """Hypercorn in its own process, a client that stops reading (a tiny receive window), and the
    metrics page read over HTTP like Prometheus does: while the write waits, the downlink's queue
    holds bytes; once `stream_write_timeout` cut it, the stalled-reader counter is 1 and the runs
    end (live runs back to 0, the run filed as closed)."""
    app = Flash(__name__, metrics=True, stream_write_timeout=3.0, stream_resume_window=0.5)
    app.layout = html.Div([html.Button("go", id="go"), html.Div(id="out")])
    blob = "x" * 100_000

    @app.event_callback(Input("go", "n_clicks"))
    async def endless(n_clicks):
        while True:
            yield stream_props("out", {"children": blob})
            await asyncio.sleep(0)

    def scraped() -> dict:
        with _OPENER.open(runner.url_for("/_flash/metrics"), timeout=5) as response:
            text = response.read().decode()
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def wait_for(check, what: str) -> dict:
        for _ in range(300):  # a bound on the wait (30 s), not a measure of speed
            samples = scraped()
            if check(samples):
                return samples
            threading.Event().wait(0.1)
        raise AssertionError(f"never: {what}; last scrape {samples}")

    runner = FlashRunner()
    runner.start(app, server="hypercorn")
    reader = socket.socket()
    try:
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.settimeout(10)
        reader.connect(("127.0.0.1", runner.port))
        reader.sendall(request_bytes(runner.port, "/_flash/downlink", {"downlink": None, "runs": {}}))
        raw = b""
        while b"\n\n" not in raw:
            raw += reader.recv(65536)
        token = raw.split(b'"downlink":"', 1)[1].split(b'"', 1)[0].decode()
        with socket.create_connection(("127.0.0.1", runner.port), timeout=10) as starter:
            starter.sendall(request_bytes(runner.port, f"/_flash/stream/{endless.stream_id}", start_body(token)))
            answer = b""
            while b'"run"' not in answer:
                answer += starter.recv(65536)
        stuck = wait_for(lambda s: value(s, "flash_stream_queued_bytes") > 0, "bytes queued behind the reader")
        assert value(stuck, "flash_stream_runs_live") == 1
        assert value(stuck, "flash_stream_stalled_readers_total") == 0, "not cut yet (write timeout 3 s)"
        assert value(stuck, "flash_downlinks", state="connected") == 1
        ended = wait_for(lambda s: value(s, "flash_stream_runs_live") == 0, "the run ending after the cut")
        assert value(ended, "flash_stream_stalled_readers_total") == 1
        assert value(ended, "flash_stream_runs_ended_total", outcome="closed") == 1
        assert value(ended, "flash_downlinks", state="connected") == 0
        assert value(ended, "flash_stream_queued_bytes") == 0
    finally:
        reader.close()
        runner.stop()


def test_with_the_stream_bus_a_scrape_pings_redis_and_frames_still_count(tmp_path):
    """A real redis-server: runs travel through it (the holder writes what the bus forwards), each
    scrape carries the PING's round trip, and a Redis that went away shows as `flash_bus_up 0`."""
    server = RedisServer(free_port(), tmp_path)
    server.start()
    try:
        storage = RedisSharedStorage(url=server.url, key_prefix=f"metrics{uuid.uuid4().hex[:8]}")
        app = Flash(__name__, metrics=True, shared_storage=storage)
        app.layout = html.Div([html.Button(id="go"), html.Div(id="out")])

        @app.event_callback(Input("go", "n_clicks"))
        async def ticks(n):
            for i in range(FRAMES):
                yield stream_props("out", {"children": i})

        async def go():
            async with StreamClient(app) as client:
                frames = await client.run(ticks, n=1)
                up = await scrape(app)
                server.kill()
                down = await scrape(app)
            return frames, up, down

        frames, up, down = run(go())
    finally:
        server.kill()
    assert frames.events == ["props"] * FRAMES + ["done"]
    assert value(up, "flash_bus_up") == 1 and value(up, "flash_bus_ping_seconds") >= 0
    assert value(up, "flash_stream_runs_ended_total", outcome="done") == 1
    assert value(up, "flash_stream_frames_written_total") == FRAMES + 1
    assert value(down, "flash_bus_up") == 0 and math.isnan(value(down, "flash_bus_ping_seconds"))


def test_each_run_is_an_opentelemetry_span_current_while_its_generator_runs():
    """With an OpenTelemetry SDK (the real one, exporting to memory), each run ends as one span
    named after its callback, with its outcome; the generator, async or sync (in a pool
    thread), sees that span as the current one, so its own spans are the run's children."""
    app, parts = metrics_app(True)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app.stream_runs.metrics.tracer.tracer = provider.get_tracer("flash.streaming")  # not the global one
    seen = []

    @app.event_callback(Input("sync", "n_clicks"), prevent_initial_call=True)
    def seen_in_a_thread(n):
        seen.append(("sync", trace.get_current_span().get_span_context().span_id))
        yield stream_props("out", {"children": "sync"})

    @app.event_callback(Input("go", "n_clicks"), prevent_initial_call=True)
    async def seen_on_the_loop(n):
        seen.append(("async", trace.get_current_span().get_span_context().span_id))
        yield stream_props("out", {"children": "async"})

    async def go():
        async with StreamClient(app) as client:
            await client.run(seen_on_the_loop, n=1)
            await client.run(seen_in_a_thread, n=1)
            await client.run(parts["boom"], n=1)

    run(go())
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"stream seen_on_the_loop", "stream seen_in_a_thread", "stream boom"}
    assert dict(seen) == {
        "async": spans["stream seen_on_the_loop"].context.span_id,
        "sync": spans["stream seen_in_a_thread"].context.span_id,
    }
    ok = spans["stream seen_on_the_loop"]
    assert ok.attributes["flash.stream.outcome"] == "done" and ok.attributes["flash.stream.frames"] == 2
    assert ok.attributes["flash.stream.id"] == seen_on_the_loop.stream_id and ok.status.status_code != StatusCode.ERROR
    failed = spans["stream boom"]
    assert failed.attributes["flash.stream.outcome"] == "error" and failed.status.status_code == StatusCode.ERROR
