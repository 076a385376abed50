"""The benchmark report calls `workload.table(medians, fmt)` on every workload module that has a
`table`: a module-level helper of another shape under that name broke the 30-minute soak's report
at its very end (it printed its tables, then crashed before writing its JSON)."""

from __future__ import annotations

import inspect

from benchmarks.workloads import all_workloads, opt_in_workloads


def test_every_table_hook_takes_medians_and_a_formatter():
    hooks = {w.NAME: w.table for w in all_workloads() + opt_in_workloads() if hasattr(w, "table")}
    assert hooks, "no workload has its own table (W12 does)"
    for name, hook in hooks.items():
        assert list(inspect.signature(hook).parameters) == ["medians", "fmt"], name
