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


def test_an_error_in_the_table_says_what_failed_not_only_where():
    """A load client's failure arrives as 'RuntimeError: ... failed (1):' plus its traceback, whose
    last error line is the one a reader needs ('1,381 of 2,000 streams sent a frame')."""
    from benchmarks.report import error_summary

    traceback = (
        "RuntimeError: 2,000 browsers: benchmarks.load ['w12'] failed (1):\n"
        "Traceback (most recent call last):\n"
        '  File "frames_client.py", line 226, in client\n'
        "RuntimeError: 1,381 of 2,000 streams sent a frame in 160 s\n"
        "future: <Task finished name='Task-1' coro=<client() done>>\n"
    )
    summary = error_summary(traceback)
    assert summary.startswith("RuntimeError: 2,000 browsers") and summary.endswith("1,381 of 2,000 streams sent a frame in 160 s")
    assert error_summary("ValueError: one line") == "ValueError: one line"
