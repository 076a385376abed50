"""The bus's kept run ends (streaming/bus/unwritten.py): written in turn once Redis answers, the
first refusal stops the round, given up after their time, and never more than the cap."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from flash.streaming.bus import unwritten
from flash.streaming.bus.unwritten import UnwrittenEnds


def fake_run(run_id: str) -> SimpleNamespace:
    return SimpleNamespace(run_id=run_id)


def test_kept_ends_are_written_in_turn_and_then_forgotten():
    ends = UnwrittenEnds(lambda: 60)
    for name in "abc":
        ends.keep(fake_run(name), name.encode())
    written: list[bytes] = []

    async def write(run, chunk):
        written.append(chunk)

    asyncio.run(ends.write_due(write))
    assert written == [b"a", b"b", b"c"] and len(ends) == 0


def test_a_refusal_stops_the_round_and_keeps_what_is_left():
    ends = UnwrittenEnds(lambda: 60)
    for name in "abc":
        ends.keep(fake_run(name), name.encode())

    async def write(run, chunk):
        if chunk == b"b":
            raise ConnectionError("still away")

    with pytest.raises(ConnectionError):
        asyncio.run(ends.write_due(write))
    assert "a" not in ends and "b" in ends and "c" in ends


def test_ends_past_their_time_are_given_up_without_a_write():
    ends = UnwrittenEnds(lambda: -1)  # already past
    ends.keep(fake_run("a"), b"a")

    async def write(run, chunk):
        raise AssertionError("a given-up end is not written")

    asyncio.run(ends.write_due(write))
    assert len(ends) == 0


def test_beyond_the_cap_the_oldest_goes(monkeypatch):
    monkeypatch.setattr(unwritten, "MAX_UNWRITTEN_ENDS", 2)
    ends = UnwrittenEnds(lambda: 60)
    for name in "abc":
        ends.keep(fake_run(name), name.encode())
    assert "a" not in ends and "b" in ends and "c" in ends
