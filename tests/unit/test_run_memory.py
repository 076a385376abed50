"""What an idle run costs: a run without the stream bus allocates no bus bookkeeping of its own.

W5 (benchmarks) counts memory per idle run; an empty `deque` is 760 bytes, about 9% of one. A
run on one worker without Redis never uses `bus_sizes`, so all of them share one that keeps
nothing, while a bus run gets its own."""

from __future__ import annotations

import sys

from flash.streaming.run.runs import StreamRun


class _Downlink:
    downlink_id = "d"


def test_runs_without_a_bus_share_one_bus_sizes_that_keeps_nothing():
    first = StreamRun("r1", "r1.sig", "s", _Downlink(), replay_size=10)
    second = StreamRun("r2", "r2.sig", "s", _Downlink(), replay_size=10)
    assert first.bus_sizes is second.bus_sizes
    first.bus_sizes.append((1, 100))  # a stray append cannot grow it, nor leak into another run
    assert len(second.bus_sizes) == 0


def test_a_bus_run_keeps_its_own_sizes():
    bus = object()  # only its presence matters to the run's constructor
    first = StreamRun("r1", "r1.sig", "s", _Downlink(), replay_size=10, bus=bus)  # type: ignore[arg-type]
    second = StreamRun("r2", "r2.sig", "s", _Downlink(), replay_size=10, bus=bus)  # type: ignore[arg-type]
    first.bus_sizes.append((1, 100))
    assert list(first.bus_sizes) == [(1, 100)] and len(second.bus_sizes) == 0
    assert first.bus_sizes is not second.bus_sizes and sys.getsizeof(first.bus_sizes) > 0
