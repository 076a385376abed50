"""`python -m benchmarks.profile [flash|dash_quart] [--sync|--pages|--hop] [-n N]`: where one callback
request's (or, with `--pages`, one first page load's) time goes.

Runs W1's in-process loop under cProfile and prints the functions with the most own time and
the most cumulative time, per request, so hot paths can be compared between frameworks. cProfile
sees the loop's thread only: `--hop` (sync callbacks, no cProfile) times the thread pool hop
instead (loop -> pool thread, the call, pool thread -> loop) and counts the loop's wakes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import statistics
import time
from typing import Any

import orjson

from . import apps
from .serve import make
from .workloads.w1_inprocess import AsgiClient


class _DownlinkReader:
    """An in-process downlink: its token, and how many runs have sent `done` on it."""

    def __init__(self) -> None:
        self.token = ""
        self.done = 0
        self.changed = asyncio.Event()

    def feed(self, chunk: bytes) -> None:
        if not self.token and chunk.startswith(b"event: hello\n"):
            self.token = orjson.loads(chunk.split(b"\n\n", 1)[0].split(b"\ndata: ", 1)[1])["downlink"]
        self.done += chunk.count(b"\nevent: done\n") + chunk.startswith(b"event: done\n")
        self.changed.set()

    async def wait(self, what: Any) -> None:
        while not what():
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 60)


async def _stream_loop(client: AsgiClient, iterations: int, profiler: cProfile.Profile, count: int) -> None:
    """W4's path: one downlink; each iteration starts a tick run of `count` messages on it and
    waits for its `done`."""
    reader = _DownlinkReader()
    disconnect = client.open_stream("/_flash/downlink", orjson.dumps({"downlink": None, "runs": {}}), reader.feed)
    await reader.wait(lambda: reader.token)
    path = f"/_flash/stream/{apps.stream_ids()['tick']}"

    async def one(messages: int) -> None:
        want = reader.done + 1
        status, body = await client.request("POST", path, orjson.dumps(apps.stream_body(apps.TICK_INPUT, messages, reader.token)))
        if status != 200:
            raise RuntimeError(f"start answered {status}: {body[:300]!r}")
        await reader.wait(lambda: reader.done >= want)

    await one(100)  # warm-up
    profiler.enable()
    for _ in range(iterations):
        await one(count)
    profiler.disable()
    disconnect()
    await asyncio.sleep(0)


async def _pages_loop(client: AsgiClient, iterations: int, profiler: cProfile.Profile) -> None:
    """W6's path: each iteration is one first page load (index, layout, dependencies)."""

    async def load() -> None:
        for path in ("/", "/_dash-layout", "/_dash-dependencies"):
            status, body = await client.request("GET", path)
            if status != 200 or not body:
                raise RuntimeError(f"GET {path} answered {status}")

    for _ in range(50):
        await load()
    profiler.enable()
    for _ in range(iterations):
        await load()
    profiler.disable()


async def _loop(app_name: str, sync: bool, iterations: int, profiler: cProfile.Profile, stream: int, pages: bool = False) -> None:
    client = AsgiClient(make(app_name))
    await client.startup()
    await client.request("GET", "/")
    if pages:
        await _pages_loop(client, iterations, profiler)
        return
    if stream:
        await _stream_loop(client, iterations, profiler, stream)
        return
    body = orjson.dumps(apps.callback_body(apps.TRIVIAL_SYNC if sync else apps.TRIVIAL_ASYNC))
    for _ in range(200):
        await client.request("POST", "/_dash-update-component", body)
    profiler.enable()
    for _ in range(iterations):
        await client.request("POST", "/_dash-update-component", body)
    profiler.disable()


def profile(
    app_name: str, sync: bool = False, iterations: int = 3000, top: int = 30, stream: int = 0, pages: bool = False
) -> str:
    """The profile report as text (own time, then cumulative time), figures per request
    (with `stream`: per stream of that many messages, W4's path)."""
    profiler = cProfile.Profile()
    asyncio.run(_loop(app_name, sync, iterations, profiler, stream, pages))
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    out = io.StringIO()
    what = f"stream of {stream} messages" if stream else f"{'sync' if sync else 'async'} callback"
    what = "page load (index + layout + dependencies)" if pages else what
    out.write(f"{app_name} {what}: {total / iterations * 1e6:.0f} us/request under cProfile ({iterations} requests)\n")
    for key, title in (("tottime", "own time"), ("cumulative", "cumulative time")):
        out.write(f"\nTop {top} by {title} (us per request):\n")
        rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2 if key == "tottime" else 3], reverse=True)  # type: ignore[attr-defined]
        for (filename, line, func), (_cc, calls, tottime, cumtime, _) in rows[:top]:
            where = filename.split("site-packages/")[-1].split("/work/main/")[-1]
            out.write(
                f"  {tottime / iterations * 1e6:7.1f} own {cumtime / iterations * 1e6:7.1f} cum "
                f"{calls / iterations:5.1f}x  {where}:{line}({func})\n"
            )
    return out.getvalue()


def hop(iterations: int = 3000) -> str:
    """A sync callback's thread hop, from stamps taken around each call `run_in_thread` starts:
    submitted -> running in a pool thread -> returned there -> its loop future settled."""
    from flash.server import threads
    from flash.server.executor import loop_waker

    stamps: list[tuple[float, float, float, float]] = []
    start_call = threads.start_call

    def timed_start_call(executor: Any, loop: Any, func: Any, args: Any, kwargs: Any, *rest: Any) -> Any:
        submitted, mark = time.perf_counter(), [0.0, 0.0]

        def call() -> Any:
            mark[0] = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                mark[1] = time.perf_counter()

        future = start_call(executor, loop, call, (), {}, *rest)
        future.add_done_callback(lambda _: stamps.append((submitted, mark[0], mark[1], time.perf_counter())))
        return future

    async def run() -> tuple[str, int]:
        from flash import Flash

        app = apps.build_app(Flash, stream_heartbeat=1)  # serve.flash()'s app, kept for its pool's name
        client = AsgiClient(app.server)
        await client.startup()
        await client.request("GET", "/")
        body = orjson.dumps(apps.callback_body(apps.TRIVIAL_SYNC))
        for _ in range(200):
            await client.request("POST", "/_dash-update-component", body)
        stamps.clear()
        waker = loop_waker(asyncio.get_running_loop())
        wakes = waker.wakes
        for _ in range(iterations):
            await client.request("POST", "/_dash-update-component", body)
        return type(app.backend.executor).__name__, waker.wakes - wakes

    threads.start_call = timed_start_call
    try:
        pool, wakes = asyncio.run(run())
    finally:
        threads.start_call = start_call
    out = [
        f"flash sync callback thread hop ({iterations} requests, pool {pool}, {wakes / iterations:.2f} loop wakes per call), us:"
    ]
    for name, (a, b) in (
        ("loop -> pool thread", (0, 1)),
        ("the call, in the thread", (1, 2)),
        ("pool thread -> loop", (2, 3)),
        ("whole hop", (0, 3)),
    ):
        values = sorted((s[b] - s[a]) * 1e6 for s in stamps)
        pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
        out.append(
            f"  {name:<24} p50 {pick(0.5):7.1f}  p90 {pick(0.9):7.1f}  p99 {pick(0.99):7.1f}  "
            f"mean {statistics.fmean(values):7.1f}"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("app", nargs="?", default="flash", choices=["flash", "dash_quart", "raw"])
    parser.add_argument("--sync", action="store_true", help="profile the sync trivial callback")
    parser.add_argument("-n", "--iterations", type=int, default=3000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--stream",
        type=int,
        default=0,
        metavar="N",
        help="profile event streams of N messages instead (W4's path: a downlink, runs started "
        "on it); -n is then the stream count",
    )
    parser.add_argument(
        "--pages",
        action="store_true",
        help="profile first page loads instead (W6's path: GET /, _dash-layout, _dash-dependencies); "
        "-n is then the page-load count",
    )
    parser.add_argument(
        "--hop", action="store_true", help="time the sync callback's thread pool hop (loop -> thread -> loop) instead of cProfile"
    )
    args = parser.parse_args()
    if args.hop:
        print(hop(args.iterations))
        return
    print(profile(args.app, args.sync, args.iterations, args.top, args.stream, args.pages))


if __name__ == "__main__":
    main()
