"""Turn samples into medians, a console table, results/latest.json, a PNG chart and the README table."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from types import ModuleType
from typing import Any

from .targets import Check, Figure, Medians, ratios

RESULTS = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent / "README.md"
ROW_ORDER = [
    "flash/in-process",
    "dash-quart/in-process",
    "dash-flask/in-process",
    "raw/in-process",
    "flash/hypercorn",
    "flash/uvicorn",
    "dash-quart/hypercorn",
    "dash-quart/uvicorn",
    "dash45/uvicorn",
    "dash-flask/gunicorn",
    "raw/hypercorn",
    "raw/uvicorn",
]
START, END = "<!-- results:start -->", "<!-- results:end -->"


def medians_of(samples: dict[str, Any]) -> Medians:
    return {
        w: {m: {c: statistics.median(v) for c, v in by_c.items() if v} for m, by_c in metrics.items()}
        for w, metrics in samples.items()
    }


def columns(workloads: list[ModuleType]) -> list[tuple[str, Any]]:
    return [(w.NAME, m) for w in workloads for m in w.METRICS]


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def _header(workload: str, metric: Any) -> str:
    return f"{workload} {metric.key}"


def table_rows(medians: Medians, workloads: list[ModuleType], in_process: bool) -> tuple[list[str], list[list[str]]]:
    """Medians, one row per contender; W1 (in-process) and the server workloads are separate tables."""
    contenders = [c for c in ROW_ORDER if c.endswith("/in-process") == in_process]
    cols = [
        (w, m) for w, m in columns(workloads) if any(medians.get(w, {}).get(m.key, {}).get(c) is not None for c in contenders)
    ]
    header = ["contender"] + [_header(w, m) for w, m in cols]
    rows = []
    for contender in contenders:
        values = [medians.get(w, {}).get(m.key, {}).get(contender) for w, m in cols]
        if any(v is not None for v in values):
            rows.append([contender] + [_fmt(v) for v in values])
    return header, rows


def legend(workloads: list[ModuleType], medians: Medians | None = None) -> str:
    """What each column means; with `medians`, only the columns that have a value."""
    return "; ".join(
        f"{w.NAME} {m.key} = {m.label} ({m.unit}, {'higher' if m.higher_is_better else 'lower'} is better)"
        for w in workloads
        for m in w.METRICS
        if medians is None or any(v is not None for v in medians.get(w.NAME, {}).get(m.key, {}).values())
    )


def ratio_rows(medians: Medians, workloads: list[ModuleType]) -> tuple[list[str], list[list[str]]]:
    all_ratios = ratios(medians)
    cols = [(w, m) for w, m in columns(workloads) if any(f"{w}.{m.key}" in r for r in all_ratios.values())]
    header = ["Flash ÷ peer"] + [_header(w, m) for w, m in cols]
    rows = []
    for pair, values in all_ratios.items():
        cells = [f"{values[f'{w}.{m.key}']:.2f}x" if f"{w}.{m.key}" in values else "" for w, m in cols]
        if any(cells):
            rows.append([pair] + cells)
    return header, rows


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(out + ["| " + " | ".join(r) + " |" for r in rows])


def _check_rows(checks: list[Check]) -> tuple[list[str], list[list[str]]]:
    header = ["workload", "check", "measured", "target", "met", "margin"]
    rows = [
        [
            c.workload,
            c.what,
            _fmt(c.measured) if c.measured >= 10 else f"{c.measured:.2f}",
            c.required,
            "yes" if c.met else "NO",
            c.margin,
        ]
        for c in checks
    ]
    return header, rows


def figure_rows(figures: list[Figure]) -> tuple[list[str], list[list[str]]]:
    header = ["workload", "figure", "measured", "note"]
    rows = []
    for fig in figures:
        value = (
            "n/a"
            if fig.measured != fig.measured
            # NaN: not measurable for that contender
            else (f"{fig.measured:.2f}x" if fig.unit == "x" else f"{_fmt(fig.measured)} {fig.unit}")
        )
        rows.append([fig.workload, fig.what, value, fig.note])
    return header, rows


def _cluster_table(medians: Medians, workloads: list[ModuleType], fmt: Any) -> list[str]:
    """W9/W10: two workers of one server + one redis-server; Flash only (Dash 4.4 has neither
    channels nor a stream bus), which the table says in a row of its own."""
    header, rows = table_rows(medians, workloads, in_process=False)
    if not rows or len(header) == 1:
        return []
    rows = [[f"{row[0]} x2 + redis"] + row[1:] for row in rows]
    rows.append(["dash-quart/*, dash-flask/* (Dash 4.4: no channels)"] + ["n/a"] * (len(header) - 1))
    return [
        "Two workers + one redis-server on 127.0.0.1 (W9, W10; W9 `mem_*`: one worker, no Redis), medians:",
        "",
        fmt(header, rows),
        "",
    ]


def _tables(
    medians: Medians, workloads: list[ModuleType], checks: list[Check], fmt: Any, figures: list[Figure] | None = None
) -> list[str]:
    parts = []
    own = [w for w in workloads if hasattr(w, "table")]  # W12: a table of its own (Flash vs Dash 4.5)
    workloads = [w for w in workloads if w not in own]
    single = [w for w in workloads if not getattr(w, "CLUSTER", False)]
    for title, in_process in (("In process (W1)", True), ("Over HTTP on 127.0.0.1, one worker", False)):
        header, rows = table_rows(medians, single, in_process)
        if rows and len(header) > 1:
            parts += [f"{title}, medians:", "", fmt(header, rows), ""]
    parts += _cluster_table(medians, [w for w in workloads if getattr(w, "CLUSTER", False)], fmt)
    for workload in own:
        parts += workload.table(medians, fmt)
    if legend(workloads, medians):
        parts += [f"Columns: {legend(workloads, medians)}.", ""]
    header, rows = ratio_rows(medians, workloads)
    if rows:
        parts += [
            "Flash ÷ peer (below 1 is better for W1, W3, W5 kb and every cpu_us; above 1 for the others):",
            "",
            fmt(header, rows),
            "",
        ]
    if checks:
        parts += ["Targets (issue 4):", "", fmt(*_check_rows(checks))]
    if figures:
        parts += ["", "Reported without a target:", "", fmt(*figure_rows(figures))]
    return parts


def console(
    medians: Medians, workloads: list[ModuleType], checks: list[Check], notes: list[str], figures: list[Figure] | None = None
) -> str:
    parts = _tables(medians, workloads, checks, _text_table, figures)
    parts += [""] + [f"  {w.NAME}: {w.TITLE} — target: {w.TARGET}" for w in workloads]
    return "\n".join(parts + notes)


def markdown(
    medians: Medians, workloads: list[ModuleType], checks: list[Check], meta: dict[str, Any], figures: list[Figure] | None = None
) -> str:
    machine = meta["machine"]
    lines = [
        f"Run of {meta['date']}: `{meta['command']}`, {meta['elapsed_s'] / 60:.1f} min, "
        f"{meta['config']['rounds']} round(s), load from {meta['load_tool']}, Flash at {meta.get('git', '?')}.",
        "",
        f"Machine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['memory_gb']:.0f} GiB, "
        f"Python {machine['python']}, {machine['os']}; load average {meta.get('loadavg', '?')} during the run. "
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        "",
    ] + _tables(medians, workloads, checks, _md_table, figures)
    if meta.get("errors"):
        lines += ["", "Errors during the run:", ""]
        lines += [f"- {e['workload']} {e['contender']}: {error_summary(e['error'])}" for e in meta["errors"]]
    return "\n".join(lines)


def error_summary(error: str) -> str:
    """An error's first line, and the line saying what failed when a traceback follows it (a load
    client's failure ends with its own `RuntimeError: ...`, the useful part)."""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    if not lines:
        return "(no message)"
    last = next((line for line in reversed(lines) if line.split(":", 1)[0].endswith(("Error", "Exception"))), lines[-1])
    return lines[0] if last == lines[0] else f"{lines[0]} ... {last}"


def write_json(
    path: Path,
    samples: dict[str, Any],
    extra: dict[str, Any],
    medians: Medians,
    checks: list[Check],
    meta: dict[str, Any],
    figures: list[Figure] | None = None,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "meta": meta,
        "medians": medians,
        "ratios": ratios(medians),
        "targets": [c.as_dict() for c in checks],
        "reported": [f.as_dict() for f in figures or [] if f.measured == f.measured],
        "samples": samples,
        "extra": extra,
    }
    path.write_text(json.dumps(data, indent=2, sort_keys=False))


def update_readme(text: str) -> bool:
    """Replace the generated section of benchmarks/README.md; False if the markers are missing."""
    if not README.exists():
        return False
    content = README.read_text()
    if START not in content or END not in content:
        return False
    head, rest = content.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{text}\n{END}{tail}")
    return True
