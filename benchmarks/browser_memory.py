"""Benchmark (b): the page's JS heap while an endless stream feeds a chart and a text.

Once the chart holds `max_points` (from then on every `extendData` drops as many points as it
adds), a full garbage collection (CDP `HeapProfiler.collectGarbage`) precedes every sample of
`Runtime.getHeapUsage`, so what is measured is what stays reachable, not garbage not yet
collected. Even so the heap of a live chart saw-tooths by a few MB (it climbs for ~1,000
`extendData`, then drops), so a least-squares slope depends on where the run starts and
stops; the verdict compares the lowest sample of each half of the run instead. Live `Promise`
objects are counted too: a stream client that chains one promise per chunk leaks them.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from typing import Any

from . import browser_app as ba
from .browser_driver import Chromium, wait_for

# The saw-tooth moves the lowest sample of a 1-minute half by about ±500 KB: a 2-minute run cannot
# resolve slower growth, so the heap verdict only catches leaks of more than 1 MB a minute (the
# Promise count catches far smaller per-message leaks). --heap-seconds runs longer.
FLAT_KB_PER_MIN = 1000.0
MIN_JUDGED_S = 60.0  # shorter runs see about one saw-tooth: too few to call the heap flat or not


@dataclass(frozen=True)
class Plan:
    seconds: float  # sampling time, after the chart has filled
    every: float  # seconds between samples
    interval_ms: float = 50
    max_points: int = 200


def plan(quick: bool, seconds: float | None = None) -> Plan:
    default = Plan(seconds=20, every=2) if quick else Plan(seconds=120, every=3)
    return Plan(seconds=seconds, every=default.every) if seconds else default


def slope_per_minute(times_s: list[float], values: list[float]) -> float:
    """Least-squares slope of values over time, per minute."""
    n = len(times_s)
    if n < 2:
        return 0.0
    mean_t, mean_v = sum(times_s) / n, sum(values) / n
    var = sum((t - mean_t) ** 2 for t in times_s)
    cov = sum((t - mean_t) * (v - mean_v) for t, v in zip(times_s, values, strict=True))
    return cov / var * 60 if var else 0.0


def tick_of(text: str) -> int:
    match = re.match(r"tick (\d+)", text)
    return int(match.group(1)) if match else -1


def live_objects(browser: Chromium, prototype: str) -> int:
    """How many objects with this prototype the page holds (CDP `Runtime.queryObjects`)."""
    proto = browser.cdp("Runtime.evaluate", expression=prototype)["result"]["objectId"]
    found = browser.cdp("Runtime.queryObjects", prototypeObjectId=proto)["objects"]["objectId"]
    length = browser.cdp(
        "Runtime.callFunctionOn", functionDeclaration="function () { return this.length; }", objectId=found, returnByValue=True
    )["result"]["value"]
    for handle in (found, proto):
        browser.cdp("Runtime.releaseObject", objectId=handle)
    return int(length)


def sample(browser: Chromium) -> dict[str, Any]:
    """One reading after a full GC: heap, DOM counters, promises, the stream's progress, the chart's size."""
    browser.cdp("HeapProfiler.collectGarbage")
    promises = live_objects(browser, "Promise.prototype")
    heap = browser.cdp("Runtime.getHeapUsage")
    dom = browser.cdp("Memory.getDOMCounters")
    page = browser.js(
        "var g = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');"
        "return {text: document.getElementById(arguments[1]).textContent,"
        " points: g && g.data && g.data[0] ? g.data[0].x.length : -1};",
        ba.ENDLESS_GRAPH,
        ba.ENDLESS_TEXT,
    )
    return {
        "t": time.monotonic(),
        "used_kb": heap["usedSize"] / 1024,
        "total_kb": heap["totalSize"] / 1024,
        "embedder_kb": heap.get("embedderHeapUsedSize", 0) / 1024,
        "nodes": dom["nodes"],
        "listeners": dom["jsEventListeners"],
        "promises": promises,
        "tick": tick_of(page["text"]),
        "points": page["points"],
    }


def run(browser: Chromium, url: str, quick: bool, seconds: float | None = None) -> dict[str, Any]:
    """Start the endless stream on a fresh page, let the chart fill, then sample for `seconds`."""
    todo = plan(quick, seconds)
    browser.open(url, ba.ENDLESS_GO)
    browser.set_props([(ba.CONFIG, {"data": {"interval_ms": todo.interval_ms, "max_points": todo.max_points}})])
    browser.click(ba.ENDLESS_GO)
    fill_s = todo.max_points * todo.interval_ms / 1000
    wait_for(
        lambda: tick_of(browser.text(ba.ENDLESS_TEXT)) >= todo.max_points + 20,
        30 + 3 * fill_s,
        "the endless stream never filled the chart",
    )
    samples = [sample(browser)]
    while samples[-1]["t"] - samples[0]["t"] < todo.seconds:
        time.sleep(max(0.0, samples[0]["t"] + len(samples) * todo.every - time.monotonic()))
        samples.append(sample(browser))
    return summarize(todo, samples)


def summarize(todo: Plan, samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Start, end, extremes, slope and the per-half lowest samples; times become seconds from the first."""
    first, last = samples[0], samples[-1]
    times = [s["t"] - first["t"] for s in samples]
    for s, t in zip(samples, times, strict=True):
        s["t"] = round(t, 3)
    used = [s["used_kb"] for s in samples]
    elapsed = times[-1] or 1.0
    half = len(samples) // 2
    floors = [min(used[:half] or used), min(used[half:])]
    floor_rate = (floors[1] - floors[0]) / (elapsed / 2 / 60)
    ticks = max(1, last["tick"] - first["tick"])
    return {
        "plan": asdict(todo),
        "seconds": elapsed,
        "start_kb": first["used_kb"],
        "end_kb": last["used_kb"],
        "min_kb": min(used),
        "max_kb": max(used),
        "slope_kb_per_min": slope_per_minute(times, used),
        "floor_kb": floors,
        "floor_kb_per_min": floor_rate,
        "flat": floor_rate < FLAT_KB_PER_MIN if elapsed >= MIN_JUDGED_S else None,
        "flat_threshold_kb_per_min": FLAT_KB_PER_MIN,
        "nodes": [first["nodes"], last["nodes"]],
        "listeners": [first["listeners"], last["listeners"]],
        "chart_points": [first["points"], last["points"]],
        "promises": [first["promises"], last["promises"]],
        "promises_per_tick": (last["promises"] - first["promises"]) / ticks,
        "ticks_per_s": (last["tick"] - first["tick"]) / elapsed,
        "expected_ticks_per_s": 1000 / todo.interval_ms,
        "samples": samples,
    }
