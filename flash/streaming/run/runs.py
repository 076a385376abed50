"""A running stream: the generator's pump task, its sequence ids and its replay buffer.

A run belongs to one downlink (the browser connection that carries it). Its messages are
numbered 1, 2, 3... and the last `replay_size` (at most `replay_bytes` bytes of JSON) are kept
(`replay.py`), so a downlink that reconnects resumes every run after the last id the browser
saw. A finished run keeps its tail for the resume window, so a reconnect just before `done` gets
`done` instead of running the generator again. With the stream bus (`stream_bus.py`) the buffer
is the run's Redis stream.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING

from ...server.sse import RunMessage
from .replay import ReplayLog

if TYPE_CHECKING:
    from ..bus.lane import LocalLane
    from ..bus.stream_bus import StreamBus
    from ..wire.downlink import Downlink


_NO_BUS_SIZES: deque[tuple[int, int]] = deque(maxlen=0)  # holds nothing, so it can be shared


class StreamRun:
    __slots__ = (
        "run_id",
        "handle",
        "stream_id",
        "downlink",
        "seq",
        "finished",
        "task",
        "bus",
        "acked",
        "started_at",
        "replay_size",
        "replay_bytes",
        "replay",
        "bus_sizes",
        "bus_bytes",
        "lane",
        "logged_at",
        "begun",
        "closing",
        "sent_bytes",
    )

    def __init__(
        self,
        run_id: str,
        handle: str,
        stream_id: str,
        downlink: "Downlink",
        replay_size: int,
        replay_bytes: int = 1_048_576,
        bus: "StreamBus | None" = None,
    ) -> None:
        self.run_id = run_id
        self.handle = handle
        self.stream_id = stream_id
        self.downlink = downlink
        self.seq = 0
        self.finished = False
        # Its pump task (pump.py), created right after the run is registered (`add_run`); the
        # pump's one try/finally ends the run (`run_finished`) however and whenever it stops.
        self.task: asyncio.Task[None] | None = None
        self.begun = False  # the pump task took its first step (from then on a cancel reaches its try)
        self.closing = False  # `close()` was called: a pump that has not begun ends at its first step
        self.bus = bus
        self.acked = 0  # bus: the last message the page's holder confirmed forwarding
        self.started_at = time.monotonic()
        self.replay = ReplayLog()  # without a bus: its newest messages (with one: the run's Redis stream)
        self.replay_size = replay_size
        self.sent_bytes = 0  # of every message it published (the dev-tools Streams panel shows it)
        self.replay_bytes = replay_bytes
        # bus: (seq, size) of the messages its Redis stream still holds, and their total size.
        # Without a bus, one shared deque that keeps nothing: an empty deque is 760 bytes, ~9% of
        # an idle run (benchmarks/README.md, W5).
        self.bus_sizes: deque[tuple[int, int]] = deque() if bus is not None else _NO_BUS_SIZES
        self.bus_bytes = 0
        self.logged_at = 0.0  # bus: when its Redis stream was last written (and its TTL renewed)
        self.lane: "LocalLane | None" = None  # bus: its page's holder is this worker (lane.py)

    def _number(self, message: RunMessage) -> bytes:
        """Give `message` the run's next sequence id; keep it for a resume (without a bus: with
        one, the run's Redis stream is the replay) and count what it sends."""
        self.seq += 1
        chunk = message.framed(self.run_id, self.seq)
        self.sent_bytes += len(chunk)
        if self.bus is None:
            replay = self.replay
            replay.append(self.seq, message)
            # The newest message always stays, whatever its size: a run that publishes while its
            # downlink is away waits on it, and the reconnect (or a private line) sends it from here.
            while len(replay) > 1 and (len(replay) > self.replay_size or replay.nbytes > self.replay_bytes):
                replay.drop_oldest()
        return chunk

    async def publish(self, message: RunMessage) -> None:
        """Number and keep one message, send it down, and wait while the browser lags."""
        chunk = self._number(message)
        if self.bus is not None:
            await self.bus.publish(self, chunk)
            return
        await self.downlink.deliver(chunk)

    async def publish_final(self, message: RunMessage) -> None:
        """The run's last message (`done` or `error`)."""
        chunk = self._number(message)
        if self.bus is not None:
            await self.bus.finish(self, chunk)
            return
        await self.downlink.deliver(chunk)

    async def announce_closed(self, message: RunMessage) -> None:
        """Closed on the server: a final event tells the page to stop rather than wait. Called
        while the pump task is being cancelled; only the bus awaits anything (its last write)."""
        chunk = self._number(message)
        if self.bus is not None:
            await self.bus.finish(self, chunk)
            return
        self.downlink.push_now(chunk)

    def can_resume(self, last_seq: int) -> bool:
        if last_seq > self.seq:
            return False
        if last_seq == self.seq:
            return True
        return len(self.replay) > 0 and self.replay.first_seq <= last_seq + 1

    def replay_after(self, last_seq: int) -> list[bytes]:
        return self.replay.after(self.run_id, last_seq)

    def close(self) -> None:
        """Stop the generator now (its `finally` runs in the pump task). A pump task that has not
        taken its first step (or not been created yet) is not cancelled: a cancel then would skip
        its whole body, and with it the try/finally that ends the run. It sees `closing` instead."""
        self.closing = True
        if self.task is not None and self.begun and not self.task.done():
            self.task.cancel()
