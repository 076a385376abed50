"""Where an idle run's memory goes: a tracemalloc count around N idle runs on one downlink.

`python -m benchmarks.run_memory [N]` (default 2,000): serves a one-stream app in process with
`flash.testing`'s StreamClient, starts 200 warm-up runs, then N more idle runs (each yields one
`stream_props` and waits on an `asyncio.Event`), and prints the Python heap they added per run,
grouped by the innermost line of Flash, Dash, Quart or the app that allocated it. The harness's
own objects (flash/testing) are counted apart. W5's `kb_per_run` is the same cost in RSS, over
HTTP, with allocator overhead on top.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tracemalloc
from typing import Any

from flash import Flash, Input, event_callback, html, stream_props
from flash.testing.streams import StreamClient

WARM_RUNS = 200
SITES = ("/flash/", "/dash/", "/quart/", "/werkzeug/", __file__)


def build() -> tuple[Flash, Any]:
    big = 1_000_000  # the admission limits would refuse thousands of runs from one client
    app = Flash(__name__, max_streams=big, max_streams_per_client=big, max_streams_per_address=big)
    app.layout = html.Div([html.Button(id="go"), html.Div(id="out")])

    @event_callback(Input("go", "n_clicks"))
    async def idler(n: Any) -> Any:
        yield stream_props("out", {"children": n})
        await asyncio.Event().wait()  # idle until closed

    return app, idler


async def start_many(client: StreamClient, idler: Any, count: int, base: int) -> None:
    runs = [await client.start(idler, n=base + i) for i in range(count)]
    await client.wait(lambda: all(len(run.frames) >= 1 for run in runs), 300, "every run's first frame")


def site_of(traceback: tracemalloc.Traceback) -> tracemalloc.Frame:
    """The innermost frame in Flash, Dash, Quart or this app (else the innermost of all)."""
    for frame in reversed(list(traceback)):
        if any(part in frame.filename for part in SITES):
            return frame
    return traceback[-1]


async def measure(count: int) -> None:
    app, idler = build()
    async with StreamClient(app, timeout=300) as client:
        await start_many(client, idler, WARM_RUNS, 0)
        gc.collect()
        tracemalloc.start(25)
        before = tracemalloc.take_snapshot()
        await start_many(client, idler, count, WARM_RUNS)
        await asyncio.sleep(0.5)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
    by_site: dict[tuple[str, str, int], int] = {}
    for stat in after.compare_to(before, "traceback"):
        if stat.size_diff <= 0:
            continue
        frame = site_of(stat.traceback)
        side = "harness" if "/flash/testing/" in frame.filename else "server"
        name = frame.filename.split("site-packages/")[-1]
        key = (side, name, frame.lineno)
        by_site[key] = by_site.get(key, 0) + stat.size_diff
    totals = {"server": 0, "harness": 0}
    for (side, _, _), size in by_site.items():
        totals[side] += size
    print(
        f"{count} idle runs: server-side heap {totals['server'] / count:.0f} B per run (harness {totals['harness'] / count:.0f} B)"
    )
    for (side, name, line), size in sorted(by_site.items(), key=lambda item: -item[1]):
        if side == "server" and size / count >= 40:
            print(f"{size / count:7.0f} B  {name}:{line}")


if __name__ == "__main__":
    asyncio.run(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
