"""The local lane: a run whose page is held by its own worker skips Redis on the way out.

Why: with the stream bus every message used to go runner -> Redis -> holder, even when the holder
is the runner's own process (half the time behind a round-robin balancer), paying an `XREAD`, a
decode and an ack round trip per message for nothing. The run still writes every message to its
Redis stream first (the replay log: a reconnect on any worker resumes from it, and a message the
page saw is always in Redis, so a worker dying in between never leaves the page ahead of the log).
Once that write has landed, the message is handed to the lane, and the holder's follower
(`follow.py`) forwards it from memory and acknowledges it in memory (`run.acked`), which wakes a
generator waiting on its window at once instead of at its next 50 ms poll of Redis.

The follower catches up from Redis first (what the run wrote before the lane opened), then takes
the lane; sequence ids make the seam exact (nothing lost, nothing twice). When the run ends
without handing its last message over (its task was cut), the follower goes back to reading Redis.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..run.runs import StreamRun


def _wake(waiter: "asyncio.Future[None] | None") -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class LocalLane:
    """Messages of one run for the follower on the same worker; plain list + futures, no queue."""

    __slots__ = ("pending", "ended", "_waiter", "_ack_waiter")

    def __init__(self) -> None:
        self.pending: list[tuple[int, bytes]] = []
        self.ended = False  # the run's task is over: nothing more will be pushed
        self._waiter: asyncio.Future[None] | None = None
        self._ack_waiter: asyncio.Future[None] | None = None

    # --- the run's side -------------------------------------------------------------------
    def push(self, seq: int, chunk: bytes) -> None:
        self.pending.append((seq, chunk))
        _wake(self._waiter)

    def end(self) -> None:
        self.ended = True
        _wake(self._waiter)

    async def acked_or(self, timeout: float) -> None:
        """Wait until the follower acknowledges something, or `timeout` seconds."""
        loop = asyncio.get_running_loop()
        waiter = self._ack_waiter
        if waiter is None or waiter.done():
            waiter = self._ack_waiter = loop.create_future()
        # A plain future and a timer, not `wait_for`: on Python 3.11 `wait_for` may swallow a
        # cancellation that arrives as the ack does (gh-86296), and the closed run went on.
        done = loop.create_future()

        def finish(_: object = None) -> None:
            _wake(done)

        timer = loop.call_later(timeout, finish)
        waiter.add_done_callback(finish)
        try:
            await done
        finally:
            timer.cancel()
            waiter.remove_done_callback(finish)

    # --- the follower's side --------------------------------------------------------------
    async def take(self) -> list[tuple[int, bytes]]:
        """Everything pushed so far; waits for the next push. Empty once the run ended."""
        while not self.pending and not self.ended:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        batch, self.pending = self.pending, []
        return batch

    def ack(self, run: "StreamRun", seq: int) -> None:
        if seq > run.acked:
            run.acked = seq
        _wake(self._ack_waiter)


def open_lane(run: "StreamRun") -> LocalLane:
    """Attach a fresh lane to a live run (a newer follower replaces an older one's)."""
    old = run.lane
    if old is not None:
        old.end()
    lane = run.lane = LocalLane()
    if run.task is not None:
        run.task.add_done_callback(lambda _: lane.end())
    return lane


def close_lane(run: "StreamRun", lane: LocalLane) -> None:
    if run.lane is lane:
        run.lane = None
