"""The app W9 and W10 run on two workers sharing one redis-server (see cluster.py).

- `watch`: an event callback watching one `Channel`, as a page following a live feed would:
  it says `ready` once its worker's subscription is up, then yields every message it gets.
- `paced`: an endless stream, one message every `PACE_S`, for W10's drop-and-resume.
- `frames`: W9's frame-delay part (and W12's Flash side; `dash45_app.py` is Dash 4.5's): an
  endless stream of `{"f": <CLOCK_MONOTONIC ns>, "i": <n>}`, one every
  `FRAME_PERIOD_S`, started at a random phase (a thousand browsers do not tick in step).
- `soak`: the soak's live stream (`workloads/soak.py`): one small message every `SOAK_PERIOD_S`;
  `soak-ping` -> `soak-pong` is its ordinary callback, and `GET /_bench/diag` reports the
  worker's asyncio tasks (and the 12 most common coroutines), live runs, downlinks and threads
  (a soak watches them grow, or not).
- `POST /_bench/publish {"n": N}` publishes `{"n": N, "t": <CLOCK_MONOTONIC ns>}` on the
  channel, stamped just before the publish, so a client on the same host reads the delivery
  latency straight from the message. `GET /_bench/info` names the stream ids and the pid.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections import Counter
from typing import Any

from dash import Input, Output, html

CHANNEL = "bench-fanout"
WATCH_INPUT = "w9-watch"
PACED_INPUT = "w10-go"
PACE_S = 0.02
FRAMES_INPUT = "w9-frames"
FRAMES_OUTPUT = "w9f-out"
FRAME_PERIOD_S = float(os.environ.get("BENCH_FRAME_PERIOD_S", "0.25"))  # W9/W12 frames; issue 24 item 5 uses 0.5
READY = "ready"
SOAK_INPUT = "soak-go"
SOAK_PERIOD_S = 1.0
PING = ("soak-pong", "soak-ping")  # (output, input) of the ordinary callback


def build(**kwargs: Any) -> Any:
    """A Flash app with the two streams and the publish route; kwargs go to `Flash(...)`."""
    from quart import request

    from flash import Channel, Flash, stream_props

    app = Flash(__name__, **kwargs)
    app.layout = html.Div(
        [
            html.Button(id=WATCH_INPUT),
            html.Div(id="w9-out"),
            html.Button(id=PACED_INPUT),
            html.Div(id="w10-out"),
            html.Button(id=FRAMES_INPUT),
            html.Div(id=FRAMES_OUTPUT),
            html.Button(id=SOAK_INPUT),
            html.Div(id="soak-out"),
            html.Button(id=PING[1]),
            html.Div(id=PING[0]),
        ]
    )
    feed = Channel(CHANNEL)

    @app.event_callback(Input(WATCH_INPUT, "n_clicks"))
    async def watch(_n: Any) -> Any:
        subscription = feed.subscribe()
        await subscription.ready()
        yield stream_props("w9-out", {"children": READY})
        async for message in subscription:
            yield stream_props("w9-out", {"children": message})

    @app.event_callback(Input(PACED_INPUT, "n_clicks"))
    async def paced(_n: Any) -> Any:
        i = 0
        while True:
            i += 1
            yield stream_props("w10-out", {"children": i})
            await asyncio.sleep(PACE_S)

    @app.event_callback(Input(FRAMES_INPUT, "n_clicks"))
    async def frames(_n: Any) -> Any:
        await asyncio.sleep(random.random() * FRAME_PERIOD_S)
        i = 0
        while True:
            i += 1  # W12 counts the frames a stream lost by this
            yield stream_props(FRAMES_OUTPUT, {"children": {"f": time.monotonic_ns(), "i": i}})
            await asyncio.sleep(FRAME_PERIOD_S)

    @app.event_callback(Input(SOAK_INPUT, "n_clicks"))
    async def soak(_n: Any) -> Any:
        i = 0
        while True:
            i += 1
            yield stream_props("soak-out", {"children": i})
            await asyncio.sleep(SOAK_PERIOD_S)

    @app.callback(Output(PING[0], "children"), Input(PING[1], "n_clicks"), prevent_initial_call=True)
    async def ping(n: Any) -> Any:
        return f"pong {n}"

    @app.server.route("/_bench/diag")
    async def diag() -> Any:
        tasks = asyncio.all_tasks()
        kinds = Counter(getattr(t.get_coro(), "__qualname__", "?") for t in tasks)
        return {
            "pid": os.getpid(),
            "tasks": len(tasks),
            "runs": len(app.stream_runs),
            "downlinks": len(app.stream_runs.downlinks),
            "threads": threading.active_count(),
            "task_kinds": dict(kinds.most_common(12)),
            "followers": len(getattr(app.stream_runs.bus, "followers", ())),
        }  # downlinks followed from Redis

    @app.server.route("/_bench/publish", methods=["POST"])
    async def publish() -> Any:
        body = await request.get_json()
        await feed.publish({"n": int(body["n"]), "t": time.monotonic_ns()}, app=app)
        return {"ok": True}

    profiler: list[Any] = []  # the running cProfile.Profile, if any

    @app.server.route("/_bench/cprofile", methods=["POST"])
    async def cprofile() -> Any:
        """`{"on": true}` starts a CPU-time profile of this worker (its thread's CPU time, so a
        loaded machine's waits do not count); `{"on": false, "path": P}` stops it and dumps it to P.
        Benchmark only (`w9_frames.py --cprofile`)."""
        import cProfile

        body = await request.get_json()
        if body.get("on"):
            profiler[:] = [cProfile.Profile(time.thread_time)]
            profiler[0].enable()
        elif profiler:
            profiler[0].disable()
            profiler.pop().dump_stats(str(body["path"]))
        return {"ok": True}

    @app.server.route("/_bench/info")
    async def info() -> Any:
        return {
            "pid": os.getpid(),
            "watch": watch.stream_id,
            "paced": paced.stream_id,
            "frames": frames.stream_id,
            "soak": soak.stream_id,
        }

    return app
