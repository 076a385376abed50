"""Benchmark (a): time from `yield stream_props(...)` on the server to the value in the page's DOM.

Every message carries its send time (`browser_app.stamp`). In the page, a MutationObserver on
the targets records when each stamp shows up in the DOM, and a wrapper around
`dash_clientside.set_props` records when Flash's client hands it to Dash (after its
per-frame batching). Server and browser share the machine's wall clock, so
`DOM time - send time` is the latency; `clock_check` bounds any offset between the two clocks.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

from . import browser_app as ba
from .browser_driver import Chromium, wait_for

# Installed once per page load; `window.__bench` keeps [seq, sent_ms, at_ms] per sighting.
PROBE_JS = """
var bench = window.__bench = {dom: [], props: []};
var token = /#(\\d+)@(\\d+(?:\\.\\d+)?)/g;
function now() { return performance.timeOrigin + performance.now(); }
function scan(text, at, into) {
    var m;
    token.lastIndex = 0;
    while (text && (m = token.exec(text)) !== null) { into.push([+m[1], +m[2], at]); }
}
var observer = new MutationObserver(function (records) {
    var at = now();
    records.forEach(function (r) {
        if (r.type === "characterData") { scan(r.target.data, at, bench.dom); return; }
        r.addedNodes.forEach(function (n) { scan(n.textContent, at, bench.dom); });
    });
});
arguments[0].forEach(function (id) {
    observer.observe(document.getElementById(id), {childList: true, subtree: true, characterData: true});
});
var original = window.dash_clientside.set_props;
window.dash_clientside.set_props = function (id, props) {
    scan(JSON.stringify(props), now(), bench.props);
    return original.apply(this, arguments);
};
"""


@dataclass(frozen=True)
class Case:
    name: str
    mode: str  # "text": a plain children value; "append": a Patch appending a Div
    count: int
    interval_ms: float
    about: str


def cases(quick: bool) -> list[Case]:
    paced, burst = (100, 200) if quick else (300, 500)
    return [
        Case("paced-text", "text", paced, 20, "one message every 20 ms, a Div's text replaced"),
        Case("burst-text", "text", burst, 0, "back to back; plain values, so each frame draws only its latest"),
        Case("burst-append", "append", burst, 0, "back to back; Patch appends of a Div, each must reach the DOM"),
    ]


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (values need not be sorted)."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {k: None for k in ("p50", "p90", "p99", "max", "mean")}
    return {
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def first_sightings(rows: list[list[float]]) -> dict[int, tuple[float, float]]:
    """seq -> (sent, first time seen); later sightings of a seq (re-renders) are ignored."""
    seen: dict[int, tuple[float, float]] = {}
    for seq, sent, at in rows:
        seen.setdefault(int(seq), (sent, at))
    return seen


def clock_check(browser: Chromium, tries: int = 15) -> dict[str, float]:
    """Browser clock minus Python's, from the quickest of `tries` round trips (± half of it)."""
    best = (float("inf"), 0.0)
    for _ in range(tries):
        before = time.time() * 1000
        page = browser.js("return performance.timeOrigin + performance.now();")
        after = time.time() * 1000
        best = min(best, (after - before, page - (before + after) / 2))
    return {"offset_ms": best[1], "uncertainty_ms": best[0] / 2}


def run_case(browser: Chromium, case: Case, clicks: int) -> dict[str, Any]:
    """One burst of `case.count` stamped messages; `clicks` is the probe button's n_clicks after it."""
    browser.js("window.__bench.dom.length = 0; window.__bench.props.length = 0;")
    config = {"count": case.count, "interval_ms": case.interval_ms, "mode": case.mode}
    browser.set_props(
        [
            (ba.PROBE_TEXT, {"children": ""}),
            (ba.PROBE_LIST, {"children": []}),
            (ba.PROBE_DONE, {"children": ""}),
            (ba.CONFIG, {"data": config}),
        ]
    )
    time.sleep(0.2)  # let the reset render before anything is stamped
    started = time.time() * 1000
    browser.click(ba.PROBE_GO)
    timeout = 30 + case.count * case.interval_ms / 1000
    wait_for(lambda: browser.text(ba.PROBE_DONE) == f"done {clicks}", timeout, f"{case.name}: no 'done {clicks}'")
    last = case.count - 1
    # The last message may land a frame after "done" (a different component).
    with contextlib.suppress(TimeoutError):
        wait_for(
            lambda: browser.js(
                "var want = arguments[0];return window.__bench.dom.some(function (r) { return r[0] === want; });", last
            ),
            2,
            "",
        )
    time.sleep(0.1)
    raw = browser.js("return window.__bench;")
    return measure(case, first_sightings(raw["dom"]), first_sightings(raw["props"]), started)


def measure(
    case: Case, dom: dict[int, tuple[float, float]], props: dict[int, tuple[float, float]], started: float
) -> dict[str, Any]:
    """Latency figures for one case from the first sightings in the DOM and at set_props."""
    to_dom = [at - sent for sent, at in dom.values()]
    to_props = [at - sent for sent, at in props.values()]
    render = [dom[s][1] - props[s][1] for s in dom if s in props]
    last = case.count - 1
    sends = [sent for sent, _ in props.values()] or [0.0]
    return {
        "case": asdict(case),
        "sent": case.count,
        "in_dom": len(dom),
        "at_set_props": len(props),
        "to_dom_ms": summary(to_dom),
        "to_set_props_ms": summary(to_props),
        "set_props_to_dom_ms": summary(render),
        "last_to_dom_ms": dom[last][1] - dom[last][0] if last in dom else None,
        "send_span_ms": max(sends) - min(sends),
        "click_to_last_ms": dom[last][1] - started if last in dom else None,
        "samples_ms": [round(v, 3) for v in to_dom],
    }


def run(browser: Chromium, url: str, quick: bool) -> dict[str, Any]:
    """Every latency case on one fresh page, after a short unrecorded warm-up."""
    browser.open(url, ba.PROBE_GO)
    browser.js(PROBE_JS, [ba.PROBE_TEXT, ba.PROBE_LIST])
    context = {
        "frame_interval_ms": browser.frame_interval_ms(),
        "visibility": browser.js("return document.visibilityState;"),
        "clock_check": clock_check(browser),
    }
    clicks = 1
    run_case(browser, Case("warm-up", "text", 30, 10, "not recorded"), clicks)
    results = []
    for case in cases(quick):
        clicks += 1
        results.append(run_case(browser, case, clicks))
    context["clock_check_after"] = clock_check(browser)
    return {"context": context, "cases": results}
