"""The open SSE response of a downlink: what is queued for it, bounded in messages and bytes,
its heartbeat timer, and the cut of a reader that stopped reading (see `Listener`)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .downlink import Downlink

logger = logging.getLogger("flash.streaming")
NO_CONTEXT = contextvars.Context()  # timers read no context variables: spare a copy each
HIGH_WATER = 256  # queued messages on one downlink before its generators wait for the browser
# ... or queued bytes (`stream_buffer_bytes`, default 64 KiB): a reader that stopped reading holds
# at most that much here plus one message per run, whatever the messages' size.


def wake(waiter: "asyncio.Future[None] | None") -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class Listener:
    """The one open response of a downlink. Plain lists and a future, not asyncio.Queue/Event:
    many idle downlinks must stay small.

    Its one timer also watches writes: `writing` is set while the response's task is writing a
    chunk (from `last_write`). A write that has not returned after `timeout` seconds means the
    reader stopped reading (the server's `send` waits for a full TCP window): the listener is
    `stalled`, detaches from its downlink at once (its runs pause, then end after the resume
    window) and the writing task is cancelled, so nothing more is written into that socket."""

    __slots__ = (
        "pending",
        "_spare",
        "pending_bytes",
        "receipts",
        "in_flight",
        "waiter",
        "cut",
        "beat",
        "last_write",
        "writing",
        "stalled",
        "task",
        "downlink",
        "stamps",
        "_timer",
        "_loop",
        "_every",
        "_timeout",
    )

    def __init__(self) -> None:
        self.pending: list[bytes] = []
        self._spare: list[bytes] = []  # `take()`'s batch until `written()`; then the next `pending`
        self.pending_bytes = 0  # of the chunks in `pending`
        # Callbacks of queued chunks that want to know once they are written (the bus follower
        # acknowledges only what reached the wire: an ack lets the run's Redis copy be trimmed).
        # `take()` moves them to `in_flight`; `written()` calls and clears those after the write
        # returned; a write that never returns (cut, stalled) drops them with the listener.
        self.receipts: list[Callable[[], None]] = []
        self.in_flight: list[Callable[[], None]] = []
        self.waiter: asyncio.Future[None] | None = None
        self.cut = False
        self.beat = False
        self.last_write = 0.0
        self.writing = False
        self.stalled = False
        self.task: asyncio.Task[Any] | None = None  # the response's task: cancelled when stalled
        self.downlink: Downlink | None = None
        self.stamps: list[float] | None = None  # metrics on: when each pending chunk was queued
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._every = 0.0
        self._timeout = float("inf")

    def start_heartbeat(self, loop: asyncio.AbstractEventLoop, every: float, timeout: float = float("inf")) -> None:
        """One timer per response, re-armed from the last write: no timer work per message. It
        fires at least every `timeout`, so a write that starts is judged within about `timeout`."""
        self._loop, self._every, self._timeout = loop, every, timeout
        self.last_write = loop.time()
        self._timer = loop.call_at(self.last_write + min(every, timeout), self._check_heartbeat, context=NO_CONTEXT)

    def _check_heartbeat(self) -> None:
        loop = self._loop
        assert loop is not None
        now = loop.time()
        if self.writing:
            stall_at = self.last_write + self._timeout
            if now >= stall_at - 0.001:
                self._timer = None
                self.stall()
                return
        due = self.last_write + self._every
        if now >= due - 0.001:
            self.beat = True
            wake(self.waiter)
            due = now + self._every
        due = min(due, self.last_write + self._timeout if self.writing else now + self._timeout)
        self._timer = loop.call_at(due, self._check_heartbeat, context=NO_CONTEXT)

    def stall(self) -> None:
        """The reader stopped reading: write nothing more, let the downlink go, unblock the write."""
        self.stalled = True
        self.cut = True
        logger.info("A downlink's reader took nothing for %.3g s (stream_write_timeout): cut", self._timeout)
        if self.downlink is not None:
            self.downlink.detach(self)
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def stop_heartbeat(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def push(self, chunk: bytes, on_written: Callable[[], None] | None = None) -> None:
        self.pending.append(chunk)
        self.pending_bytes += len(chunk)
        if self.stamps is not None:
            self.stamps.append(time.monotonic())
        if on_written is not None:
            self.receipts.append(on_written)
        wake(self.waiter)

    def take(self) -> list[bytes]:
        """What is queued, to write now; `written()` once it is written. The two lists swap
        places and the receipts move only when there are some: a response allocates nothing per
        write. Why: at 10,000 streams every object a write leaves alive until the next one sits
        in the collector's young generation (~20 per stream), and each young collection walks
        them all (benchmarks/README.md, item 5)."""
        batch, spare = self.pending, self._spare
        spare.clear()  # the batch before (normally cleared by `written()` already)
        self.pending, self._spare, self.pending_bytes = spare, batch, 0
        if self.receipts:
            self.in_flight, self.receipts = self.receipts, self.in_flight
        return batch

    def written(self) -> None:
        """The batch `take()` returned is written: tell whoever asked."""
        self._spare.clear()
        if self.in_flight:
            done, self.in_flight = self.in_flight, []
            for on_written in done:
                on_written()

    def over(self, max_bytes: int) -> bool:
        """Full: producers wait (`HIGH_WATER` messages or `max_bytes` queued)."""
        return len(self.pending) >= HIGH_WATER or self.pending_bytes >= max_bytes

    def cut_now(self) -> None:
        """End this response after what is already queued, without closing the downlink."""
        self.cut = True
        wake(self.waiter)
