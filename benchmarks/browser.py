"""`python -m benchmarks.browser [--quick]`: Flash streams as a real browser sees them.

(a) latency from `yield stream_props(...)` to the value in the page's DOM, paced and in bursts;
(b) the page's JS heap under an endless chart + text stream; (c) W7: an ordinary callback's
click-to-DOM latency with 0, 10 and 100 endless streams open on the page, on Hypercorn and on
Uvicorn. Flash apps on one worker, headless Debian Chromium driven by selenium; all are stopped
when the run ends, however it ends. Writes benchmarks/results/browser-latest.json and, after a full default run, the
browser section of benchmarks/README.md. Separate from `python -m benchmarks`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

import selenium

from . import browser_callbacks, browser_latency, browser_memory
from .__main__ import git_state, machine
from .browser_driver import AppServer, Chromium, browser_version, missing_browser
from .contenders import new_log_dir
from .report import README, RESULTS, _md_table, _text_table, figure_rows
from .targets import w7_figures
from .w7_page import row_label

START, END = "<!-- browser-results:start -->", "<!-- browser-results:end -->"
LATENCY_NOTE = (
    "`in DOM` counts distinct messages seen in the DOM: plain values that arrive in the same frame are drawn "
    "once, as the latest. `last` is the last message of the case. `to set_props` = until Flash's client hands "
    "the value to Dash (after its once-per-frame batching); `set_props→DOM` = Dash and React rendering it."
)
PARTS = ("latency", "memory", "callbacks")  # "callbacks" is W7 (`--only W7` works too)
W7_NOTE = (
    "Each click is timed in the page: `performance.now()` just before `button.click()` to a MutationObserver "
    "seeing `pong <n>` in the DOM (the request to `_dash-update-component`, the callback, Dash and React "
    "rendering), split by the callback request's resource timing into *to request* (Dash dispatching it), "
    "*request* (network and server, to the response's last byte) and *response→DOM* (Dash and React). "
    "Every stream sends one `stream_props` every 100 ms, all on the page's one downlink. "
    "`updates/s` = stream values that reached the DOM per stream per second during the clicks (10 expected); "
    "`conns` = TCP connections from the browser to the server at the end of the case."
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.browser", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="~1 minute: fewer messages, 20 s of heap samples")
    parser.add_argument(
        "--only",
        choices=PARTS,
        type=lambda v: "callbacks" if v.lower() == "w7" else v,
        help="run only one of the three benchmarks (callbacks = W7)",
    )
    parser.add_argument(
        "--w7-servers",
        default=",".join(browser_callbacks.SERVERS),
        help="servers for W7 (default hypercorn,uvicorn,dash45; dash45 = Dash 4.5 on uvicorn, "
        "in benchmarks/.venv-dash45, made once; flash45 = Flash's page served from that venv, "
        "Flash on Dash 4.5's renderer)",
    )
    parser.add_argument(
        "--results-dir", default=None, help="write browser-latest.json here instead of benchmarks/results (implies --no-readme)"
    )
    parser.add_argument(
        "--heap-seconds",
        type=float,
        default=None,
        help="sample the heap this long (default 120, --quick 20); longer resolves slower leaks",
    )
    parser.add_argument("--no-readme", action="store_true", help="leave benchmarks/README.md as it is")
    return parser.parse_args(argv)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def latency_rows(latency: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = [
        "case",
        "sent",
        "in DOM",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "last ms",
        "to set_props p50",
        "set_props→DOM p50",
    ]
    rows = []
    for res in latency["cases"]:
        dom = res["to_dom_ms"]
        rows.append(
            [
                res["case"]["name"],
                str(res["sent"]),
                str(res["in_dom"]),
                _ms(dom["p50"]),
                _ms(dom["p90"]),
                _ms(dom["p99"]),
                _ms(dom["max"]),
                _ms(res["last_to_dom_ms"]),
                _ms(res["to_set_props_ms"]["p50"]),
                _ms(res["set_props_to_dom_ms"]["p50"]),
            ]
        )
    return header, rows


def memory_rows(memory: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    mb = lambda kb: f"{kb / 1024:.2f} MB"  # noqa: E731
    plan = memory["plan"]
    rows = [
        [
            "stream",
            f"extendData (max {plan['max_points']} points) + text, every {plan['interval_ms']:.0f} ms; "
            f"{memory['ticks_per_s']:.1f} ticks/s reached the page",
        ],
        ["sampled", f"{memory['seconds']:.0f} s, {len(memory['samples'])} samples, full GC before each"],
        [
            "heap start → end",
            f"{mb(memory['start_kb'])} → {mb(memory['end_kb'])} (min {mb(memory['min_kb'])}, max {mb(memory['max_kb'])})",
        ],
        ["slope (least squares)", f"{memory['slope_kb_per_min']:+,.0f} KB/min"],
        [
            "lowest sample, 1st → 2nd half",
            f"{mb(memory['floor_kb'][0])} → {mb(memory['floor_kb'][1])} ({memory['floor_kb_per_min']:+,.0f} KB/min)",
        ],
        ["flat", _verdict(memory)],
        [
            "live Promise objects",
            f"{memory['promises'][0]:,} → {memory['promises'][1]:,} ({memory['promises_per_tick']:+.2f} per message)",
        ],
        [
            "DOM nodes, listeners",
            f"{memory['nodes'][0]} → {memory['nodes'][1]}, {memory['listeners'][0]} → {memory['listeners'][1]}",
        ],
        ["chart points", f"{memory['chart_points'][0]} → {memory['chart_points'][1]}"],
    ]
    return ["JS heap", "value"], rows


def callback_rows(callbacks: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = [
        "server",
        "streams open",
        "clicks",
        "p50 ms",
        "p95 ms",
        "min ms",
        "max ms",
        "to request p50",
        "request p50",
        "response→DOM p50",
        "updates/s",
        "conns",
        "load",
    ]
    rows = []
    for server, cases in callbacks["servers"].items():
        for case in cases:
            if "error" in case:  # Dash 4.5's streams did not all start: say so in the row
                rows.append(
                    [row_label(server), str(case["streams"]), "0", "failed*"]
                    + ["n/a"] * (len(header) - 5)
                    + [f"{case['loadavg']:.1f}"]
                )
                continue
            rate = case["updates_per_stream_s"]
            opened = f"{case['streams']} (all stopped)" if case.get("after_stop") else str(case["streams"])
            rows.append(
                [
                    row_label(server),
                    opened,
                    str(case["clicks"]),
                    _ms(case["p50_ms"]),
                    _ms(case["p95_ms"]),
                    _ms(case["min_ms"]),
                    _ms(case["max_ms"]),
                    _ms(case.get("to_request_p50_ms")),
                    _ms(case.get("request_p50_ms")),
                    _ms(case.get("response_to_dom_p50_ms")),
                    "n/a" if rate is None else f"{rate:.1f}",
                    str(case["browser_connections"]),
                    f"{case['loadavg']:.1f}",
                ]
            )
    return header, rows


def _verdict(memory: dict[str, Any]) -> str:
    limit = f"{memory['flat_threshold_kb_per_min']:.0f} KB/min"
    if memory["flat"] is None:
        return f"not judged: {memory['seconds']:.0f} s is too short (needs 60 s or more)"
    return f"yes: grows under {limit}" if memory["flat"] else f"NO: grows {limit} or more"


def _pairs(_header: list[str], rows: list[list[str]]) -> str:
    """Two-column rows as aligned `name  value` lines (a text table would right-align the values)."""
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"  {name.ljust(width)}  {value}" for name, value in rows)


def render(results: dict[str, Any], markdown_tables: bool) -> list[str]:
    """The run's tables, as markdown or as console text."""
    table, pairs = (_md_table, _md_table) if markdown_tables else (_text_table, _pairs)
    parts: list[str] = []
    if "latency" in results:
        ctx = results["latency"]["context"]
        clock = ctx["clock_check"]
        parts += [
            "Latency, yield on the server → text in the page's DOM (ms):",
            "",
            table(*latency_rows(results["latency"])),
            "",
            f"Frames every {ctx['frame_interval_ms']:.1f} ms, page {ctx['visibility']}; browser clock − "
            f"server clock {clock['offset_ms']:+.2f} ms ± {clock['uncertainty_ms']:.2f}. {LATENCY_NOTE}",
            "",
        ]
    if "memory" in results:
        parts += ["JS heap under an endless stream:", "", pairs(*memory_rows(results["memory"])), ""]
    if "callbacks" in results:
        parts += [
            "W7: an ordinary callback's click → DOM latency with streams open on the page (ms):",
            "",
            table(*callback_rows(results["callbacks"])),
            "",
            W7_NOTE,
            "",
        ]
        parts += [
            f"\\* {row_label(server)}, {case['streams']} streams: {case['error']}." + "\n"
            for server, cases in results["callbacks"]["servers"].items()
            for case in cases
            if "error" in case
        ]
        figures = w7_figures(results["callbacks"])
        if figures:
            parts += [table(*figure_rows(figures)), ""]
    return parts


def markdown(results: dict[str, Any], meta: dict[str, Any]) -> str:
    mach = meta["machine"]
    head = [
        f"Run of {meta['date']}: `{meta['command']}`, {meta['elapsed_s']:.0f} s, Flash at {meta['git']}.",
        "",
        f"Machine: {mach['nproc']} CPUs ({mach['cpu_model']}), {mach['memory_gb']:.0f} GiB, "
        f"Python {mach['python']}, {mach['os']}; {meta['browser']}, selenium {meta['selenium']}, "
        f"one worker (latency and heap on Hypercorn; W7 on {meta.get('w7_servers', 'Hypercorn')}); "
        f"load average {meta['loadavg']} at the end.",
        "",
    ]
    return "\n".join(head + render(results, True)).rstrip()


def update_readme(text: str) -> bool:
    """Replace the browser section of benchmarks/README.md (between its own markers)."""
    content = README.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(content):
        return False
    README.write_text(pattern.sub(lambda _: f"{START}\n{text}\n{END}", content, count=1))
    return True


def measure(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    log_dir = new_log_dir()
    if args.only in (None, "memory", "latency"):
        with AppServer(log_dir) as server, Chromium() as browser:
            url = server.url + "/"
            if args.only in (None, "memory"):  # first: a fresh renderer, no garbage from the other page
                print("browser benchmark: JS heap...", flush=True)
                results["memory"] = browser_memory.run(browser, url, args.quick, args.heap_seconds)
            if args.only in (None, "latency"):
                print("browser benchmark: latency...", flush=True)
                results["latency"] = browser_latency.run(browser, url, args.quick)
    if args.only in (None, "callbacks"):
        print("browser benchmark: W7, an ordinary callback among 0/10/100 streams...", flush=True)
        servers = tuple(s.strip() for s in args.w7_servers.split(",") if s.strip())
        results["callbacks"] = browser_callbacks.run(log_dir, args.quick, servers)
    return results


def _stop_on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds the `with` blocks: server and browser get stopped


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    problem = missing_browser()
    if problem:
        sys.exit(f"benchmarks.browser: {problem}")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)

    started = time.monotonic()
    results = measure(args)
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python -m benchmarks.browser"] + [shlex.quote(a) for a in argv]),
        "elapsed_s": time.monotonic() - started,
        "machine": machine(),
        "git": git_state(),
        "browser": browser_version(),
        "selenium": selenium.__version__,
        "loadavg": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
        "w7_servers": " and ".join(row_label(s.strip()) for s in args.w7_servers.split(",") if s.strip()),
    }
    print("\n" + "\n".join(render(results, False)))
    path = (Path(args.results_dir) if args.results_dir else RESULTS) / "browser-latest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, **results}, indent=1))
    print(f"Run took {meta['elapsed_s']:.0f} s. Raw figures: {path}")
    if (
        args.quick
        or args.only
        or args.heap_seconds
        or args.no_readme
        or args.results_dir
        or args.w7_servers != ",".join(browser_callbacks.SERVERS)
    ):
        print("benchmarks/README.md left as is (only a full run rewrites its browser section).")
    elif update_readme(markdown(results, meta)):
        print("benchmarks/README.md browser section updated.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
