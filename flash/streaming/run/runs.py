"""A running stream: the generator's pump task, its sequence ids and its replay buffer.

A run belongs to one downlink (the browser connection that carries it). Its messages are
numbered 1, 2, 3... and the last `replay_size` (at most `replay_bytes` bytes) are kept, so a
downlink that reconnects resumes every run after the last id the browser saw. A finished run
keeps its tail for the resume window, so a reconnect just before `done` gets `done` instead of
running the generator again. With the stream bus (`stream_bus.py`) the buffer is the run's Redis stream.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING, Callable

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
        "_buffer",
        "_bytes",
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
        self._buffer: list[tuple[int, bytes]] = []
        self.replay_size = replay_size
        self._bytes = 0  # of the chunks in `_buffer`
        self.sent_bytes = 0  # of every message it published (the dev-tools Streams panel shows it)
        self.replay_bytes = replay_bytes
        # bus: (seq, size) of the messages its Redis stream still holds, and their total size.
        # Without a bus, one shared deque that keeps nothing: an empty deque is 760 bytes, ~9% of
        # an idle run (benchmarks/README.md, W5).
        self.bus_sizes: deque[tuple[int, int]] = deque() if bus is not None else _NO_BUS_SIZES
        self.bus_bytes = 0
        self.logged_at = 0.0  # bus: when its Redis stream was last written (and its TTL renewed)
        self.lane: "LocalLane | None" = None  # bus: its page's holder is this worker (lane.py)

    def _remember(self, chunk_for: Callable[[int], bytes]) -> bytes:
        self.seq += 1
        chunk = chunk_for(self.seq)
        buffer = self._buffer
        buffer.append((self.seq, chunk))
        self._bytes += len(chunk)
        self.sent_bytes += len(chunk)
        # The newest message always stays, whatever its size: a run that publishes while its
        # downlink is away waits on it, and the reconnect (or a private line) sends it from here.
        while len(buffer) > 1 and (len(buffer) > self.replay_size or self._bytes > self.replay_bytes):
            self._bytes -= len(buffer[0][1])
            del buffer[0]
        return chunk

    async def publish(self, encode: Callable[[int], bytes]) -> None:
        """Number and buffer one message, send it down, and wait while the browser lags."""
        if self.bus is not None:
            self.seq += 1
            chunk = encode(self.seq)
            self.sent_bytes += len(chunk)
            await self.bus.publish(self, chunk)
            return
        await self.downlink.deliver(self._remember(encode))

    async def publish_final(self, encode: Callable[[int], bytes]) -> None:
        """The run's last message (`done` or `error`)."""
        if self.bus is not None:
            self.seq += 1
            chunk = encode(self.seq)
            self.sent_bytes += len(chunk)
            await self.bus.finish(self, chunk)
            return
        await self.downlink.deliver(self._remember(encode))

    async def announce_closed(self, chunk_for: Callable[[int], bytes]) -> None:
        """Closed on the server: a final event tells the page to stop rather than wait. Called
        while the pump task is being cancelled; only the bus awaits anything (its last write)."""
        if self.bus is not None:
            self.seq += 1
            chunk = chunk_for(self.seq)
            self.sent_bytes += len(chunk)
            await self.bus.finish(self, chunk)
            return
        self.downlink.push_now(self._remember(chunk_for))

    def can_resume(self, last_seq: int) -> bool:
        if last_seq > self.seq:
            return False
        if last_seq == self.seq:
            return True
        return bool(self._buffer) and self._buffer[0][0] <= last_seq + 1

    def replay_after(self, last_seq: int) -> list[bytes]:
        return [chunk for seq, chunk in self._buffer if seq > last_seq]

    def close(self) -> None:
        """Stop the generator now (its `finally` runs in the pump task). A pump task that has not
        taken its first step (or not been created yet) is not cancelled: a cancel then would skip
        its whole body, and with it the try/finally that ends the run. It sees `closing` instead."""
        self.closing = True
        if self.task is not None and self.begun and not self.task.done():
            self.task.cancel()
