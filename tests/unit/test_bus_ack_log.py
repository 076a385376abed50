"""`AckLog` (flash/streaming/bus/follow.py): a worker's acks, coalesced into one write per batch.

What breaks if the coalescing breaks: an ack lost (a generator waits on its window for nothing,
or its Redis copy is never trimmed), an older ack written after a newer one (the runner sees its
page fall behind), a failure told to no follower (a page waits on a dead Redis) or to one twice."""

from __future__ import annotations

import asyncio

import pytest

from flash.streaming.bus.follow import AckLog


class Recorder:
    """A writer that holds each call until released, and can be told to fail the next one."""

    def __init__(self) -> None:
        self.calls: list[dict[str, int]] = []
        self.gate = asyncio.Event()
        self.fail_next = False

    async def write(self, due: dict[str, int]) -> None:
        self.calls.append(dict(due))
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("redis away")


def test_acks_given_while_a_write_is_in_flight_go_in_one_next_write_newest_per_run():
    async def go() -> tuple[list[dict[str, int]], list[BaseException]]:
        writer, failures = Recorder(), []
        acks = AckLog(writer.write)
        acks.ack("r1", 16, failures.append)
        await asyncio.sleep(0)  # the first write starts, with r1's ack alone
        for seq in (32, 48, 64):
            acks.ack("r1", seq, failures.append)
        for run in range(2, 200):
            acks.ack(f"r{run}", run, failures.append)
        writer.gate.set()
        await acks.drain()
        return writer.calls, failures

    calls, failures = asyncio.run(go())
    assert calls[0] == {"r1": 16}
    assert len(calls) == 2, "everything acked while the first write was in flight: one more write"
    assert calls[1]["r1"] == 64, "a run's newest ack replaces its older ones"
    assert calls[1] == {"r1": 64, **{f"r{run}": run for run in range(2, 200)}}, "no ack lost"
    assert failures == []


def test_a_failed_write_tells_each_follower_it_carried_once_and_later_acks_still_go():
    async def go() -> tuple[list[dict[str, int]], dict[str, int]]:
        writer = Recorder()
        acks = AckLog(writer.write)
        told: dict[str, int] = {}

        def follower(name: str):
            return lambda exc: told.__setitem__(name, told.get(name, 0) + 1)

        a, b = follower("a"), follower("b")
        writer.fail_next = True
        acks.ack("a1", 16, a)
        acks.ack("a2", 16, a)
        acks.ack("b1", 16, b)
        writer.gate.set()
        await acks.drain()
        acks.ack("a1", 32, a)
        await acks.drain()
        return writer.calls, told

    calls, told = asyncio.run(go())
    assert told == {"a": 1, "b": 1}, "each follower of the failed write hears of it once"
    assert calls == [{"a1": 16, "a2": 16, "b1": 16}, {"a1": 32}]


def test_a_cancelled_writer_leaves_the_log_usable():
    async def go() -> list[dict[str, int]]:
        writer = Recorder()
        acks = AckLog(writer.write)
        acks.ack("r1", 16, lambda exc: None)
        await asyncio.sleep(0)
        flusher = acks._flusher
        assert flusher is not None
        flusher.cancel()
        with pytest.raises(asyncio.CancelledError):
            await flusher
        writer.gate.set()
        acks.ack("r1", 32, lambda exc: None)
        await acks.drain()
        return writer.calls

    assert asyncio.run(go()) == [{"r1": 16}, {"r1": 32}]


def test_stop_drops_what_is_due_and_ends_the_writer_task():
    async def go() -> tuple[list[dict[str, int]], bool]:
        writer = Recorder()
        acks = AckLog(writer.write)
        acks.ack("r1", 16, lambda exc: None)
        await asyncio.sleep(0)
        acks.ack("r2", 16, lambda exc: None)  # due behind the call in flight
        flusher = acks._flusher
        acks.stop()
        writer.gate.set()
        await asyncio.wait([flusher])
        return writer.calls, acks._flusher is None

    calls, ended = asyncio.run(go())
    assert calls == [{"r1": 16}] and ended, "nothing written after stop, no task left"
