"""`python -m benchmarks.run_memory` keeps working: it counts a run's heap by allocating line."""

from __future__ import annotations

import asyncio

from benchmarks import run_memory


def test_the_count_names_flash_lines_and_a_per_run_total(capsys):
    asyncio.run(run_memory.measure(40))
    out = capsys.readouterr().out
    first, *lines = out.splitlines()
    assert first.startswith("40 idle runs: server-side heap ") and " B per run" in first
    per_run = int(first.split("server-side heap ")[1].split(" B")[0])
    assert per_run > 1000, "an idle run costs at least its task, generator and context"
    assert any("flash/streaming/" in line for line in lines), "the pump and endpoint lines are listed"
