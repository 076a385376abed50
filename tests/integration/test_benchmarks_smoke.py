"""`python -m benchmarks --smoke` still runs: each workload of its subset produces numbers.

The benchmark suite is only run by hand, so a change to Flash's protocol (a route, a downlink's
bytes) or to the suite itself can break it unnoticed until the next full run. This runs its
smallest form as a user would (a subprocess from the repository root, real uvicorn servers, real
sockets) and checks only that every workload reported a positive number for Flash: speed is the
benchmarks' business, never a test's. `--results-dir` keeps the committed results and the
benchmarks README untouched, which the test checks as well.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# workload -> (contender row, metrics that must hold a positive number, metrics that must hold a number)
EXPECTED = {
    "W1": ("flash/in-process", ("async_us", "sync_us"), ()),
    "W6": ("flash/uvicorn", ("pages_s",), ("cpu_us",)),
    "W12": (
        "flash/uvicorn",
        ("frame_p50_ms_50", "frame_p95_ms_50", "frame_p99_ms_50", "start_s_50", "ping_p50_ms_50"),
        ("lost_pct_50", "cpu_us_50", "kb_per_browser_50"),
    ),  # RSS growth of 50 browsers may round to 0
}
UNTOUCHED = [REPO / "benchmarks" / "README.md", *sorted((REPO / "benchmarks" / "results").glob("*"))]


def _digests() -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in UNTOUCHED if p.is_file()}


@pytest.mark.timeout(180)
def test_smoke_run_reports_numbers_for_every_workload(tmp_path: Path) -> None:
    for module in ("uvicorn", "psutil", "orjson", "httpx"):
        pytest.importorskip(module)  # the `bench` extra's parts the smoke subset needs
    before = _digests()
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--results-dir", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=170,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads((out / "latest.json").read_text())
    assert data["meta"]["errors"] == []
    for workload, (contender, positive, present) in EXPECTED.items():
        for metric in positive + present:
            value = data["medians"].get(workload, {}).get(metric, {}).get(contender)
            assert isinstance(value, (int, float)) and math.isfinite(value), (workload, metric, value)
            assert value > 0 or metric in present, (workload, metric, value)
    assert _digests() == before, "the smoke run rewrote benchmarks/README.md or benchmarks/results/"
