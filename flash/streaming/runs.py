"""A running stream: the generator's pump task, its sequence ids, replay buffer and listener.

A run belongs to the worker that serves it. When its connection drops, the run pauses (the
generator waits at its next yield) for `resume_window` seconds so that a reconnect to this worker
can resume after the last sequence id the browser received; then it is closed. An explicit close
or a restart of the same event callback closes it at once, so the generator's `finally` runs.
"""
from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, AsyncIterator, Callable

from .sse import HEARTBEAT

HIGH_WATER = 64  # queued messages before the generator waits for the client
_CUT = b""  # put in a listener's queue to end its response without closing the run


class StreamRun:
    def __init__(self, run_id: str, stream_id: str, replay_size: int, resume_window: float) -> None:
        self.run_id = run_id
        self.stream_id = stream_id
        self.seq = 0
        self.finished = False
        self.task: asyncio.Task | None = None
        self._buffer: deque[tuple[int, bytes]] = deque(maxlen=replay_size)
        self._resume_window = resume_window
        self._listener: asyncio.Queue[bytes] | None = None
        self._attached = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._expiry: asyncio.TimerHandle | None = None

    # --- producer side (the pump task) ------------------------------------------------------
    async def publish(self, encode: Callable[[int], bytes]) -> None:
        """Number and buffer one message, hand it to the listener, and wait if the client lags."""
        self.seq += 1
        chunk = encode(self.seq)
        self._buffer.append((self.seq, chunk))
        if self._listener is None:
            # Disconnected: pause the generator here; a reconnect replays this from the buffer.
            await self._attached.wait()
            return
        self._listener.put_nowait(chunk)
        if self._listener.qsize() >= HIGH_WATER:
            self._drained.clear()
            await self._drained.wait()

    def announce_closed(self, chunk_for: Callable[[int], bytes]) -> None:
        """The run was closed while a client may be listening: end that response with a final
        event, so the client stops instead of taking the silence for a network drop."""
        if self._listener is None:
            return
        self.seq += 1
        chunk = chunk_for(self.seq)
        self._buffer.append((self.seq, chunk))
        self._listener.put_nowait(chunk)

    # --- consumer side (one HTTP response at a time) ----------------------------------------
    def can_resume(self, last_seq: int | None) -> bool:
        if self.finished or last_seq is None or last_seq > self.seq:
            return False
        if last_seq == self.seq:
            return True
        return bool(self._buffer) and self._buffer[0][0] <= last_seq + 1

    async def listen(self, last_seq: int, heartbeat: float) -> AsyncIterator[bytes]:
        """Yield replayed then live messages; ends after the final event or on disconnect."""
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        replay = [chunk for seq, chunk in self._buffer if seq > last_seq]
        self._attach(queue)
        try:
            for chunk in replay:
                yield chunk
                if self._is_final(chunk):
                    return
            while True:
                try:
                    chunk = await asyncio.wait_for(queue.get(), heartbeat)
                except asyncio.TimeoutError:
                    yield HEARTBEAT
                    continue
                # Whatever else is already queued goes out in the same write.
                batch = []
                while chunk is not _CUT:
                    batch.append(chunk)
                    if self._is_final(chunk) or queue.empty():
                        break
                    chunk = queue.get_nowait()
                self._drained.set()
                if batch:
                    yield b"".join(batch)
                if chunk is _CUT or self._is_final(chunk):
                    return
        finally:
            self._detach(queue)

    @staticmethod
    def _is_final(chunk: bytes) -> bool:
        return b"\nevent: done\n" in chunk or b"\nevent: error\n" in chunk

    def _attach(self, queue: asyncio.Queue[bytes]) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        self._listener = queue
        self._attached.set()

    def _detach(self, queue: asyncio.Queue[bytes]) -> None:
        if self._listener is not queue:
            return
        self._listener = None
        self._attached.clear()
        self._drained.set()
        if not self.finished:
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_later(self._resume_window, self.close)

    def close(self) -> None:
        """Stop the generator now (its `finally` runs in the pump task)."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self.task is not None and not self.task.done():
            self.task.cancel()


class RunRegistry:
    """The live runs of one app in this worker; `len()` is the live-stream count."""

    def __init__(self) -> None:
        self._runs: dict[str, StreamRun] = {}

    def __len__(self) -> int:
        return len(self._runs)

    def get(self, run_id: str) -> StreamRun | None:
        return self._runs.get(run_id)

    def add(self, run: StreamRun) -> None:
        old = self._runs.get(run.run_id)
        if old is not None:
            old.close()
        self._runs[run.run_id] = run

    def discard(self, run: StreamRun) -> None:
        if self._runs.get(run.run_id) is run:
            del self._runs[run.run_id]

    def close(self, run_id: str) -> bool:
        run = self._runs.get(run_id)
        if run is None:
            return False
        run.close()
        return True

    def drop_connections(self) -> int:
        """Cut every open connection without closing the runs (a simulated network drop)."""
        count = 0
        for run in list(self._runs.values()):
            if run._listener is not None:  # pylint: disable=protected-access
                run._listener.put_nowait(_CUT)  # pylint: disable=protected-access
                count += 1
        return count

    def runs(self) -> list[Any]:
        return list(self._runs.values())
