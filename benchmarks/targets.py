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
        checks.append(Check("W1", "flash ÷ dash-quart us/request (in-process)", ratio, "<= 0.333x",
                            ratio <= 1 / 3, _at_most(ratio, 1 / 3)))
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
            checks.append(Check("W5", f"{f} RSS per idle stream (KB)", kb, "<= 20 KB", kb <= 20, _at_most(kb, 20)))
        if beat is not None:
            checks.append(Check("W5", f"{f} streams with heartbeats (%)", beat, ">= 99%", beat >= 99, _at_least(beat, 99)))
        a, b = _get(medians, "W6", "pages_s", f), _get(medians, "W6", "pages_s", d)  # W6: >= Dash quart.
        if a and b:
            checks.append(Check("W6", f"{f} ÷ {d} page loads/s", a / b, ">= 1.0x", a >= b, _at_least(a / b, 1)))
        a, b = _get(medians, "W6", "cpu_us", f), _get(medians, "W6", "cpu_us", d)
        if a and b:
            checks.append(Check("W6", f"{f} ÷ {d} server CPU per page load", a / b, "<= 1.0x", a <= b, _at_most(a / b, 1)))
    return checks


RATIO_PAIRS = [
    ("flash/in-process", "dash-quart/in-process"),
    ("flash/in-process", "dash-flask/in-process"),
    ("flash/in-process", "raw/in-process"),
] + [
    (f"flash/{server}", peer)
    for server in SERVERS
    for peer in (f"dash-quart/{server}", "dash-flask/gunicorn", f"raw/{server}")
]


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
