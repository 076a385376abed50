"""Issue 4's targets, checked against the medians: what was required, what was measured, by how much."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

Medians = dict[str, dict[str, dict[str, float]]]  # workload -> metric -> contender -> median
SERVERS = ("hypercorn", "uvicorn")


@dataclass
class Check:
    workload: str
    what: str  # e.g. "flash/hypercorn c16 / dash-quart/hypercorn"
    measured: float
    required: str  # e.g. ">= 2.0x"
    met: bool
    margin: str  # e.g. "missed: 1.45x, needs +38%"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _get(medians: Medians, workload: str, metric: str, contender: str) -> float | None:
    return medians.get(workload, {}).get(metric, {}).get(contender)


def _at_least(value: float, bound: float) -> str:
    if value >= bound:
        return f"met with {value / bound - 1:+.0%} to spare"
    return f"missed: needs {bound / value - 1:+.0%}" if value > 0 else "missed"


def _at_most(value: float, bound: float) -> str:
    if value <= bound:
        return f"met with {1 - value / bound:.0%} to spare"
    return f"missed: needs {1 - bound / value:.0%} less"


def check_all(medians: Medians) -> list[Check]:
    checks: list[Check] = []
    # W1: Flash <= 1/3 of Dash quart's us/request, in process.
    flash, dash = _get(medians, "W1", "async_us", "flash/in-process"), _get(medians, "W1", "async_us", "dash-quart/in-process")
    if flash and dash:
        ratio = flash / dash
        checks.append(
            Check("W1", "flash ÷ dash-quart us/request (in-process)", ratio, "<= 0.333x", ratio <= 1 / 3, _at_most(ratio, 1 / 3))
        )
    for server in SERVERS:
        f, d = f"flash/{server}", f"dash-quart/{server}"
        for metric in ("c16", "c64"):  # W2: Flash >= 2x Dash quart on the same server.
            a, b = _get(medians, "W2", metric, f), _get(medians, "W2", metric, d)
            if a and b:
                checks.append(Check("W2", f"{f} ÷ {d} req/s at {metric}", a / b, ">= 2.0x", a / b >= 2, _at_least(a / b, 2)))
        a, b = _get(medians, "W2", "cpu_us", f), _get(medians, "W2", "cpu_us", d)
        if a and b:  # the same target in server CPU per request: robust to other load on the machine
            checks.append(Check("W2", f"{f} ÷ {d} server CPU per request", a / b, "<= 0.5x", a / b <= 0.5, _at_most(a / b, 0.5)))
        total = _get(medians, "W3", "total_ms", f)  # W3: all done within 150 ms of the 100 ms floor.
        if total:
            checks.append(Check("W3", f"{f} last of 1,000 answers (ms)", total, "<= 250 ms", total <= 250, _at_most(total, 250)))
        rate = _get(medians, "W4", "msg_s", f)  # W4: >= 20,000 msg/s.
        if rate:
            checks.append(Check("W4", f"{f} msg/s on one stream", rate, ">= 20,000", rate >= 20000, _at_least(rate, 20000)))
        kb, beat = _get(medians, "W5", "kb_per_stream", f), _get(medians, "W5", "heartbeat_pct", f)
        if kb is not None:
            checks.append(
                Check(
                    "W5",
                    f"{f} RSS per idle stream: a downlink with one idle run (KB)",
                    kb,
                    "<= 20 KB",
                    kb <= 20,
                    _at_most(kb, 20),
                )
            )
        if beat is not None:
            checks.append(Check("W5", f"{f} downlinks with heartbeats (%)", beat, ">= 99%", beat >= 99, _at_least(beat, 99)))
        a, b = _get(medians, "W6", "pages_s", f), _get(medians, "W6", "pages_s", d)  # W6: >= Dash quart.
        if a and b:
            checks.append(Check("W6", f"{f} ÷ {d} page loads/s", a / b, ">= 1.0x", a >= b, _at_least(a / b, 1)))
        a, b = _get(medians, "W6", "cpu_us", f), _get(medians, "W6", "cpu_us", d)
        if a and b:
            checks.append(Check("W6", f"{f} ÷ {d} server CPU per page load", a / b, "<= 1.0x", a <= b, _at_most(a / b, 1)))
    return checks


@dataclass
class Figure:
    """A figure reported without a target (W5's per-run cost, W7, W8): printed, never judged."""

    workload: str
    what: str
    measured: float
    unit: str
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reported_all(medians: Medians) -> list[Figure]:
    """W5's KB per idle run on a shared downlink and W8 (100 streams on one downlink), per server."""
    figures: list[Figure] = []
    for server in SERVERS:
        f, raw = f"flash/{server}", f"raw/{server}"
        kb = _get(medians, "W5", "kb_per_run", f)
        if kb is not None:
            floor = _get(medians, "W5", "kb_per_run", raw)
            figures.append(
                Figure(
                    "W5",
                    f"{f} RSS per idle run on a shared downlink",
                    kb,
                    "KB",
                    f"raw floor {floor:.1f} KB" if floor is not None else "",
                )
            )
        rate, one = _get(medians, "W8", "msg_s", f), _get(medians, "W4", "msg_s", f)
        if rate:
            figures.append(
                Figure(
                    "W8",
                    f"{f} msg/s, 100 streams on one downlink",
                    rate,
                    "msg/s",
                    f"{rate / one:.2f}x W4's one stream" if one else "",
                )
            )
        cpu, one_cpu = _get(medians, "W8", "cpu_us", f), _get(medians, "W4", "cpu_us", f)
        if cpu:
            figures.append(
                Figure(
                    "W8",
                    f"{f} server CPU per message, 100 streams on one downlink",
                    cpu,
                    "us/msg",
                    f"W4's one stream: {one_cpu:.1f} us/msg" if one_cpu else "",
                )
            )
    if any(fig.workload == "W8" for fig in figures):
        figures.append(
            Figure(
                "W8", "dash-quart/*, dash-flask/gunicorn", float("nan"), "", "n/a: Dash 4.4 has no multiplexed stream transport"
            )
        )
    return figures


def w7_figures(callbacks: dict[str, Any]) -> list[Figure]:
    """W7 (browser): an ordinary callback's click-to-DOM latency with N streams open on the page;
    the figure asked for is latency with 100 streams ÷ latency on an idle page."""
    from .w7_page import DASH45, row_label

    figures: list[Figure] = []
    for server, all_cases in callbacks.get("servers", {}).items():
        cases = [case for case in all_cases if "error" not in case]  # a failed case has no latencies
        idle = next((case for case in cases if case["streams"] == 0), None)  # before any stream started
        busy = max(cases, key=lambda case: case["streams"], default=None)
        if not idle or not busy or busy is idle or not idle["p50_ms"]:
            continue
        n = busy["streams"]
        figures.append(
            Figure(
                "W7",
                f"{row_label(server)} click-to-DOM p50 with {n} streams ÷ idle page",
                busy["p50_ms"] / idle["p50_ms"],
                "x",
                f"{busy['p50_ms']:.1f} ms vs {idle['p50_ms']:.1f} ms",
            )
        )
        figures.append(
            Figure(
                "W7",
                f"{row_label(server)} click-to-DOM p95 with {n} streams ÷ idle page",
                busy["p95_ms"] / idle["p95_ms"],
                "x",
                f"{busy['p95_ms']:.1f} ms vs {idle['p95_ms']:.1f} ms",
            )
        )
    servers = callbacks.get("servers", {})
    dash = {c["streams"]: c for c in servers.get(DASH45, []) if not c.get("after_stop") and "error" not in c}
    for case in servers.get("uvicorn", []):  # Flash ÷ Dash 4.5, both on uvicorn, per number of streams
        peer = dash.get(case["streams"])
        if case.get("after_stop") or not peer:
            continue
        for q in ("p50", "p95"):
            figures.append(
                Figure(
                    "W7",
                    f"flash/uvicorn ÷ dash45/uvicorn click-to-DOM {q} with {case['streams']} streams",
                    case[f"{q}_ms"] / peer[f"{q}_ms"],
                    "x",
                    f"{case[f'{q}_ms']:.1f} ms vs {peer[f'{q}_ms']:.1f} ms",
                )
            )
    return figures


RATIO_PAIRS = (
    [
        ("flash/in-process", "dash-quart/in-process"),
        ("flash/in-process", "dash-flask/in-process"),
        ("flash/in-process", "raw/in-process"),
    ]
    + [
        (f"flash/{server}", peer)
        for server in SERVERS
        for peer in (f"dash-quart/{server}", "dash-flask/gunicorn", f"raw/{server}")
    ]
    + [("flash/uvicorn", "dash45/uvicorn")]
)  # Dash 4.5 runs on uvicorn only (W2, W3, W6, W12)


def ratios(medians: Medians) -> dict[str, dict[str, float]]:
    """Flash ÷ peer for every metric both have: pair label -> 'W2.c16' -> ratio."""
    out: dict[str, dict[str, float]] = {}
    for flash, peer in RATIO_PAIRS:
        row = {}
        for workload, metrics in medians.items():
            for metric, by_contender in metrics.items():
                a, b = by_contender.get(flash), by_contender.get(peer)
                if a is not None and b:
                    row[f"{workload}.{metric}"] = a / b
        if row:
            out[f"{flash} ÷ {peer}"] = row
    return out
