"""W7: an ordinary callback clicked while many streams run on the same page, in Chromium.

The page (`browser_app.build_many`) holds up to 100 endless event-callback streams, one
`stream_props` every 100 ms each, all carried by the page's one downlink (the SharedWorker hub),
and an ordinary `@callback` (`ping` -> `pong`). With 0, then 10, then 100 streams open, the
ping button is clicked 20 times (after 10 warm-up clicks), and once more with every stream
stopped again; each click is timed in the page, from just before
`button.click()` to the moment a MutationObserver sees the answer in `#pong`
(`performance.now()`, so no selenium round trip is included). Served by Flash on Hypercorn and
on Uvicorn, and by Dash 4.5 on Uvicorn (`dash45_app.build_many`: the same page, its streams
`async def` generator `@callback`s on Dash's own transport), one worker each, a fresh Chromium
per server. Dash 4.5 has no user-level cancel, so its run has no "all stopped" case.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

from . import browser_app as ba
from .browser_driver import AppServer, Chromium, wait_for
from .browser_latency import percentile
from .w7_page import DASH45, FLASH45, row_label

SERVERS = ("hypercorn", "uvicorn", DASH45)
# (streams open, what gets there): a button that starts more, or None; "stop" stops them all.
CASES = ((0, None), (ba.FIRST, ba.FIRST_GO), (ba.MANY, ba.REST_GO), (0, "stop"))
WARM_UP_CLICKS = 10
CLICK_TIMEOUT_MS = 20000

# One timed click: resolves with [click -> text in the DOM, click -> request start, request start
# -> response end, response end -> DOM] in ms (the last three from the callback request's
# resource timing entry, -1 when there is none), or null on a timeout.
CLICK_JS = """
var want = arguments[0], button = document.getElementById(arguments[1]);
var target = document.getElementById(arguments[2]), done = arguments[arguments.length - 1];
var t0 = 0, timer = null;
var observer = new MutationObserver(function () {
    if (target.textContent !== want) { return; }
    var t = performance.now();
    observer.disconnect();
    clearTimeout(timer);
    var entries = performance.getEntriesByType('resource').filter(function (e) {
        return e.name.indexOf('_dash-update-component') >= 0 && e.startTime >= t0;
    });
    var e = entries[entries.length - 1];
    done(e ? [t - t0, e.startTime - t0, e.responseEnd - e.startTime, t - e.responseEnd] : [t - t0, -1, -1, -1]);
});
observer.observe(target, {childList: true, subtree: true, characterData: true});
timer = setTimeout(function () { observer.disconnect(); done(null); }, arguments[3]);
performance.clearResourceTimings();
t0 = performance.now();
button.click();
"""
TICKS_JS = """
var out = [];
for (var i = 0; i < arguments[0]; i++) {
    var e = document.getElementById('stream-' + i), t = e ? e.textContent : '';
    out.push(t ? parseInt(t.split(':')[1], 10) : 0);
}
return out;
"""


def ticks(browser: Chromium, count: int) -> list[int]:
    return browser.js(TICKS_JS, count) if count else []


def click_once(browser: Chromium, n_clicks: int) -> list[float]:
    """[click -> DOM, click -> request, request -> response, response -> DOM] of one click, ms."""
    parts = browser.driver.execute_async_script(CLICK_JS, f"pong {n_clicks}", ba.PING, ba.PONG, CLICK_TIMEOUT_MS)
    if parts is None:
        raise TimeoutError(f"click {n_clicks}: no 'pong {n_clicks}' within {CLICK_TIMEOUT_MS} ms")
    return [float(p) for p in parts]


def _p50(values: list[float]) -> float | None:
    values = [v for v in values if v >= 0]
    return statistics.median(values) if values else None


def open_streams(browser: Chromium, button: str, count: int, flash: bool = True) -> None:
    """Start streams with `button`; wait until all `count` run and each has drawn a value."""
    browser.click(button)
    if flash:  # Dash 4.5's page has no such API: its streams count once they draw
        wait_for(lambda: browser.js("return window.flash.running().length;") == count, 30, f"{count} streams running in the page")
    wait_for(lambda: all(n > 0 for n in ticks(browser, count)), 30, f"all {count} streams drawing")
    time.sleep(1.0)  # let the start burst pass: measure the steady state


def stop_streams(browser: Chromium) -> None:
    """Stop every stream from the page (as a cancel would); wait until none runs."""
    browser.js("window.flash.running().forEach(function (id) { window.flash.stop(id); });")
    wait_for(lambda: browser.js("return window.flash.running().length;") == 0, 30, "every stream stopped")
    time.sleep(1.0)


def run_case(
    browser: Chromium, server: AppServer, streams: int, clicks: int, first_click: int, flash: bool = True
) -> dict[str, Any]:
    before, t0 = ticks(browser, streams), time.monotonic()
    timings = []
    rng = random.Random(streams)
    for k in range(clicks):
        timings.append(click_once(browser, first_click + k))
        time.sleep(rng.uniform(0.05, 0.15))  # no phase lock with the streams' 100 ms ticks
    latencies = [t[0] for t in timings]
    after, elapsed = ticks(browser, streams), time.monotonic() - t0
    running = browser.js("return window.flash.running().length;") if flash else None
    return {
        "streams": streams,
        "running": running,
        "clicks": clicks,
        "p50_ms": statistics.median(latencies),
        "p95_ms": percentile(latencies, 95),
        "max_ms": max(latencies),
        "min_ms": min(latencies),
        "mean_ms": statistics.fmean(latencies),
        "to_request_p50_ms": _p50([t[1] for t in timings]),  # Dash dispatching the callback
        "request_p50_ms": _p50([t[2] for t in timings]),  # network + server
        "response_to_dom_p50_ms": _p50([t[3] for t in timings]),  # Dash + React rendering the answer
        "updates_per_stream_s": (sum(after) - sum(before)) / elapsed / streams if streams else None,
        "stalled_streams": sum(1 for a, b in zip(after, before, strict=True) if a <= b),
        "browser_connections": server.browser_connections(),
        "loadavg": os.getloadavg()[0],
        "samples_ms": [round(v, 2) for v in latencies],
    }


def flash45_python() -> str:
    """An interpreter with Flash and Dash 4.5 (`BENCH_FLASH45_PYTHON`, default the venv
    `bash scripts/test` makes for its Dash 4.5 run: Python 3.13, where the other rows run 3.11).
    Dash 4.5's own venv (dash45.py) has no `dash[async]`, which Flash needs, and adding it there
    would change the Dash 4.5 contender."""
    python = os.environ.get("BENCH_FLASH45_PYTHON") or str(Path(__file__).resolve().parents[1] / ".venv-py313-dash45/bin/python")
    if not Path(python).exists():
        raise RuntimeError(
            f"{python} is missing: run `bash scripts/test` once (its Dash 4.5 run makes it) or set BENCH_FLASH45_PYTHON"
        )
    return python


def run_server(kind: str, log_dir: Path, quick: bool) -> list[dict[str, Any]]:
    clicks = 8 if quick else 20
    flash = kind != DASH45
    if kind == FLASH45:  # Flash on Dash 4.5: the test suite's venv for it (scripts/test's `newest` run)
        app_server, cases = AppServer(log_dir, "uvicorn", "many_server", python=flash45_python()), CASES
    elif flash:
        app_server, cases = AppServer(log_dir, kind, "many_server"), CASES
    else:
        from . import dash45

        app_server = AppServer(log_dir, "uvicorn", "many_server", module="benchmarks.dash45_app", python=str(dash45.ensure()))
        cases = tuple(case for case in CASES if case[1] != "stop")
    with app_server as server, Chromium() as browser:
        browser.open(server.url + "/", ba.PING, flash)
        shared = browser.js("return typeof SharedWorker === 'function';")
        n_clicks = 0
        for _ in range(WARM_UP_CLICKS):  # not recorded
            n_clicks += 1
            click_once(browser, n_clicks)
        results = []
        for streams, step in cases:
            if step == "stop":
                stop_streams(browser)
            elif step is not None:
                try:
                    open_streams(browser, step, streams, flash)
                except TimeoutError as err:
                    if flash:
                        raise
                    results.append(_failed(browser, streams, err))  # Dash 4.5's own outcome: recorded
                    print(f"   W7 {row_label(kind):<15} {streams:>3} streams: {results[-1]['error']}", flush=True)
                    break
            result = run_case(browser, server, streams, clicks, n_clicks + 1, flash)
            result["shared_worker"] = shared
            result["after_stop"] = step == "stop"
            n_clicks += clicks
            results.append(result)
            label = f"{streams:>3} streams" + (" (all stopped)" if step == "stop" else "")
            print(
                f"   W7 {row_label(kind):<15} {label}: p50 {result['p50_ms']:.1f} ms, "
                f"p95 {result['p95_ms']:.1f} ms, max {result['max_ms']:.1f} ms",
                flush=True,
            )
    return results


def _failed(browser: Chromium, streams: int, err: Exception) -> dict[str, Any]:
    """A case whose streams did not all draw on Dash 4.5's page: how many did, and the first
    error its client logged (e.g. its downlink's "stream reset")."""
    drawing = sum(1 for n in ticks(browser, streams) if n > 0)
    logged = [e.get("message", "") for e in browser.driver.get_log("browser") if e.get("level") == "SEVERE"]
    first = next((m.split(" Error: ", 1)[1].split("\n")[0] for m in logged if " Error: " in m), "")
    why = f"{drawing} of {streams} streams drew a value within 30 s" + (f"; the page logged: {first}" if first else "")
    return {"streams": streams, "error": why, "loadavg": os.getloadavg()[0]}


def run(log_dir: Path, quick: bool, servers: tuple[str, ...] = SERVERS) -> dict[str, Any]:
    return {
        "plan": {"tick_ms": ba.TICK_SECONDS * 1000, "clicks": 8 if quick else 20, "cases": [n for n, _ in CASES]},
        "servers": {kind: run_server(kind, log_dir, quick) for kind in servers},
    }
