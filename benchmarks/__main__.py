"""`python -m benchmarks [--quick] [--only W1,W4]`: run issue 4's benchmark suite and report.

Starts every contender's server on 127.0.0.1, measures, stops it; prints medians, Flash ÷ peer
ratios and the targets; writes benchmarks/results/latest.json and latest.png. W9 and W10
(issue 12: channel fan-out and cross-worker resume) start two workers and a redis-server. W12
(issue 23) runs Flash against Dash 4.5 (`dash45/uvicorn`, from a venv made once: dash45.py).
`--smoke` is the seconds-long subset tests/integration/test_benchmarks_smoke.py runs.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import random
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REQUIRED = {  # import name -> pip package
    "flash": "dash-flash (pip install -e . from the repo root)",
    "dash": "dash[async]>=4.4.1,<4.5",
    "quart": "quart",
    "flask": "flask",
    "hypercorn": "hypercorn",
    "uvicorn": "uvicorn",
    "gunicorn": "gunicorn",
    "httpx": "httpx",
    "matplotlib": "matplotlib",
    "psutil": "psutil",
    "orjson": "orjson",
    "wsproto": "wsproto",
}


SMOKE_OPTIONAL = {"flask", "hypercorn", "gunicorn", "matplotlib", "wsproto"}  # --smoke: flash/uvicorn, no chart


def check_requirements(smoke: bool = False) -> None:
    missing = []
    for module, package in REQUIRED.items():
        if smoke and module in SMOKE_OPTIONAL:
            continue
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    if missing:
        sys.exit(
            "benchmarks: missing Python packages: "
            + ", ".join(missing)
            + "\n  install them with: pip install -e '.[bench]'  (or pip install "
            + " ".join(missing)
            + ")"
        )
    if shutil.which("wrk") is None:
        print(
            "benchmarks: wrk not found; using the Python load generator instead (slower; numbers are lower "
            "bounds). For wrk: apt-get install -y wrk",
            file=sys.stderr,
        )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="~2 minute smoke run: 1 round, smaller workloads")
    parser.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W4 or W9,W10 (W1-W6, W8-W12)")
    parser.add_argument("--contenders", default="", help="comma-separated contender names (default: all)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3, --quick 1)")
    parser.add_argument("--seed", type=int, default=None, help="shuffle seed (default: random, printed)")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite the table in benchmarks/README.md")
    parser.add_argument(
        "--results-dir", default=None, help="write the JSON and PNG here instead of benchmarks/results (implies --no-readme)"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a few seconds per workload: W1, W6 and W12 (50 browsers) on flash/uvicorn, tiny sizes "
        "(tests/integration/test_benchmarks_smoke.py; never a speed)",
    )
    soak = parser.add_argument_group("SOAK (opt-in: --only SOAK; see benchmarks/workloads/soak.py)")
    soak.add_argument("--soak-minutes", type=float, default=None, help="minutes of churn and callbacks (default 30)")
    soak.add_argument("--soak-streams", type=int, default=None, help="live streams held open (default 1000)")
    soak.add_argument(
        "--soak-checkpoints",
        default=None,
        help="churn cycles at which RSS is sampled, comma-separated (default 10000,20000,40000)",
    )
    soak.add_argument("--soak-churn-rate", type=float, default=None, help="churn cycles a second (default 25)")
    return parser.parse_args(argv)


def machine() -> dict[str, Any]:
    import psutil

    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), model)
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "memory_gb": psutil.virtual_memory().total / 2**30,
    }


def versions() -> dict[str, str]:
    out = {}
    for dist in ("dash-flash", "dash", "quart", "flask", "hypercorn", "uvicorn", "gunicorn", "orjson"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "missing"
    from . import dash45

    out["dash (dash45/uvicorn's venv)"] = dash45.version()
    fast = [m for m in ("uvloop", "httptools") if importlib.util.find_spec(m)]
    out["uvicorn loop/http"] = "+".join(fast) if fast else "asyncio/h11"
    if shutil.which("wrk"):
        first = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False).stdout.split()
        out["wrk"] = first[1] if len(first) > 1 else "?"
    return out


def git_state() -> str:
    """The commit measured, and whether the work tree had changes (Flash is edited while it runs)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "flash")
    return f"{commit}{' + uncommitted changes in flash/' if dirty else ''}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    check_requirements(args.smoke)
    from . import apps, chart, report
    from .contenders import BY_NAME, CONTENDERS, new_log_dir
    from .runner import Run
    from .targets import check_all, reported_all
    from .workloads import Config, all_workloads, opt_in_workloads
    from .workloads.w5_idle import raise_fd_limit

    if args.smoke:  # the smoke test's subset: an in-process callback, a page load, streams (W12)
        args.only = args.only or "W1,W6,W12"
        args.contenders = args.contenders or "flash/uvicorn"
    cfg = Config.smoke_config() if args.smoke else Config.quick_config() if args.quick else Config()
    if args.rounds:
        cfg.rounds = args.rounds
    for flag in ("soak_minutes", "soak_streams", "soak_churn_rate"):
        if getattr(args, flag) is not None:
            setattr(cfg, flag, getattr(args, flag))
    if args.soak_checkpoints:
        cfg.soak_checkpoints = tuple(int(c) for c in args.soak_checkpoints.split(",") if c.strip())
    workloads = all_workloads()
    if args.only:
        wanted = {w.strip().upper() for w in args.only.split(",") if w.strip()}
        known = workloads + opt_in_workloads()
        unknown = wanted - {w.NAME for w in known}
        if unknown:
            sys.exit(
                f"benchmarks: unknown workload(s) {', '.join(sorted(unknown))}; choose from "
                f"{', '.join(w.NAME for w in known)} (W7 is `python -m benchmarks.browser`)"
            )
        workloads = [w for w in known if w.NAME in wanted]
    contenders = list(CONTENDERS)
    if args.contenders:
        names = [n.strip() for n in args.contenders.split(",")]
        bad = [n for n in names if n not in BY_NAME]
        if bad:
            sys.exit(f"benchmarks: unknown contender(s) {bad}; choose from {list(BY_NAME)}")
        contenders = [BY_NAME[n] for n in names]
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    raise_fd_limit(65536)  # servers inherit it: W5 holds 10,000 sockets
    cfg.stream_ids = apps.stream_ids()
    command = "python -m benchmarks " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    print(
        f"benchmarks: {', '.join(w.NAME for w in workloads)} x {len(contenders)} contenders, {cfg.rounds} round(s), seed {seed}",
        flush=True,
    )

    started = time.monotonic()
    run = Run(cfg, workloads, contenders, new_log_dir(), seed)
    run.run()
    elapsed = time.monotonic() - started

    samples = {w: {m: dict(c) for m, c in ms.items()} for w, ms in run.samples.items()}
    medians = report.medians_of(samples)
    checks = check_all(medians)
    figures = reported_all(medians)
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command.strip(),
        "elapsed_s": elapsed,
        "seed": seed,
        "machine": machine(),
        "versions": versions(),
        "git": git_state(),
        "load_tool": "wrk" if shutil.which("wrk") else "python",
        "config": {k: v for k, v in vars(cfg).items() if k != "stream_ids"},
        "errors": run.errors,
        "loadavg": " / ".join(f"{x:.1f}" for x in run.loadavg),
    }
    # W9/W10 alone (they need Redis and run apart) keep their own files, next to the full run's.
    stem = "cluster-latest" if all(getattr(w, "CLUSTER", False) for w in workloads) else "latest"
    stems = {getattr(w, "RESULTS_STEM", None) for w in workloads}
    if len(stems) == 1 and None not in stems:  # SOAK alone keeps its own files
        stem = str(stems.pop())
    out = Path(args.results_dir) if args.results_dir else report.RESULTS
    out.mkdir(parents=True, exist_ok=True)
    chart_note = "" if args.smoke else f", chart: {out / (stem + '.png')}"
    notes = [f"\nRun took {elapsed:.0f}s. Raw figures: {out / (stem + '.json')}{chart_note}"]
    print("\n" + report.console(medians, workloads, checks, notes, figures))
    report.write_json(out / f"{stem}.json", samples, {k: dict(v) for k, v in run.extra.items()}, medians, checks, meta, figures)
    if not args.smoke:  # the smoke run checks numbers, not the chart (and needs no matplotlib)
        chart.draw(medians, workloads, out / f"{stem}.png", f"Flash benchmarks — {meta['date']} — {meta['command']}")
    if args.quick or args.smoke or args.only or args.contenders or args.rounds or args.no_readme or args.results_dir:
        print("benchmarks/README.md left as is (only a full default run rewrites its table).")
    elif report.update_readme(report.markdown(medians, workloads, checks, meta, figures)):
        print("benchmarks/README.md table updated.")
    if run.errors:
        print(f"{len(run.errors)} error(s) during the run; see above and latest.json.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
