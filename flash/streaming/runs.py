"""A running stream: the generator's pump task, its sequence ids, replay buffer and listener.

A run belongs to the worker that serves it. When its connection drops, the run pauses (the
generator waits at its next yield) for `resume_window` seconds so that a reconnect to this worker
can resume after the last sequence id the browser received; then it is closed. An explicit close
or a restart of the same event callback closes it at once, so the generator's `finally` runs.
"""
from __future__ import annotations

import asyncio
import contextvars
from typing import Any, AsyncIterator, Callable

from .sse import HEARTBEAT

# Heartbeat timers read no context variables: an empty context spares a copy per stream.
_NO_CONTEXT = contextvars.Context()
HIGH_WATER = 64  # queued messages before the generator waits for the client
# Loop turns a woken response waits while its queue keeps growing, so a fast generator's
# messages share one write (a server write costs far more than a loop turn; the browser
# applies updates once per animation frame anyway).
COALESCE_TURNS = 8


def _wake(waiter: "asyncio.Future[None] | None") -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class Listener:
    """The one response attached to a run. Plain lists and a future, not asyncio.Queue/Event:
    ten thousand idle streams must stay small (each deque-backed primitive costs ~0.7 KB)."""

    __slots__ = ("pending", "waiter", "cut", "beat", "last_write", "_timer", "_loop", "_every")

    def __init__(self) -> None:
        self.pending: list[bytes] = []
        self.waiter: asyncio.Future[None] | None = None
        self.cut = False
        self.beat = False  # a heartbeat is due
        self.last_write = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._every = 0.0

    def start_heartbeat(self, loop: asyncio.AbstractEventLoop, every: float) -> None:
        """One timer per response, re-armed from the last write: no timer work per message."""
        self._loop, self._every = loop, every
        self.last_write = loop.time()
        self._timer = loop.call_at(self.last_write + every, self._check_heartbeat, context=_NO_CONTEXT)

    def _check_heartbeat(self) -> None:
        loop = self._loop
        assert loop is not None
        due = self.last_write + self._every
        now = loop.time()
        if now >= due - 0.001:
            self.beat = True
            _wake(self.waiter)
            due = now + self._every
        self._timer = loop.call_at(due, self._check_heartbeat, context=_NO_CONTEXT)

    def stop_heartbeat(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def push(self, chunk: bytes) -> None:
        self.pending.append(chunk)
        _wake(self.waiter)

    def cut_now(self) -> None:
        """End this response after what is already queued, without closing the run."""
        self.cut = True
        _wake(self.waiter)


class StreamRun:
    __slots__ = ("run_id", "stream_id", "seq", "finished", "task", "_buffer", "_replay_size",
                 "_resume_window", "_listener", "_producer_waiter", "_expiry")

    def __init__(self, run_id: str, stream_id: str, replay_size: int, resume_window: float) -> None:
        self.run_id = run_id
        self.stream_id = stream_id
        self.seq = 0
        self.finished = False
        self.task: asyncio.Task | None = None
        self._buffer: list[tuple[int, bytes]] = []
        self._replay_size = replay_size
        self._resume_window = resume_window
        self._listener: Listener | None = None
        self._producer_waiter: asyncio.Future[None] | None = None  # the pump, paused or held back
        self._expiry: asyncio.TimerHandle | None = None

    # --- producer side (the pump task) ------------------------------------------------------
    def _remember(self, chunk_for: Callable[[int], bytes]) -> bytes:
        self.seq += 1
        chunk = chunk_for(self.seq)
        self._buffer.append((self.seq, chunk))
        if len(self._buffer) > self._replay_size:
            del self._buffer[0]
        return chunk

    async def _hold_producer(self) -> None:
        self._producer_waiter = asyncio.get_running_loop().create_future()
        try:
            await self._producer_waiter
        finally:
            self._producer_waiter = None

    async def publish(self, encode: Callable[[int], bytes]) -> None:
        """Number and buffer one message, hand it to the listener, and wait if the client lags."""
        chunk = self._remember(encode)
        if self._listener is None:
            # Disconnected: pause the generator here until a reconnect (which replays this).
            while self._listener is None:
                await self._hold_producer()
            return
        self._listener.push(chunk)
        if len(self._listener.pending) >= HIGH_WATER:
            await self._hold_producer()  # until the response takes the batch, or detaches

    def announce_closed(self, chunk_for: Callable[[int], bytes]) -> None:
        """The run was closed while a client may be listening: end that response with a final
        event, so the client stops instead of taking the silence for a network drop."""
        if self._listener is not None:
            self._listener.push(self._remember(chunk_for))

    # --- consumer side (one HTTP response at a time) ----------------------------------------
    def can_resume(self, last_seq: int | None) -> bool:
        if self.finished or last_seq is None or last_seq > self.seq:
            return False
        if last_seq == self.seq:
            return True
        return bool(self._buffer) and self._buffer[0][0] <= last_seq + 1

    async def listen(self, last_seq: int, heartbeat: float, listener: Listener | None = None) -> AsyncIterator[bytes]:
        """Yield replayed then live messages; ends after the final event, on disconnect, or when
        `listener` (the caller's handle on this response) is cut."""
        listener = listener or Listener()
        replay = [chunk for seq, chunk in self._buffer if seq > last_seq]
        self._attach(listener)
        loop = asyncio.get_running_loop()
        listener.start_heartbeat(loop, heartbeat)
        try:
            for chunk in replay:
                yield chunk
                if self._is_final(chunk):
                    return
            while True:
                if not listener.pending and not listener.cut and not listener.beat:
                    listener.waiter = loop.create_future()
                    try:
                        await listener.waiter
                    finally:
                        listener.waiter = None
                listener.beat = False
                listener.last_write = loop.time()
                if not listener.pending and not listener.cut:
                    yield HEARTBEAT
                    continue
                # Everything already queued goes out in one write.
                for _ in range(COALESCE_TURNS):
                    queued = len(listener.pending)
                    if listener.cut or queued >= HIGH_WATER:
                        break
                    await asyncio.sleep(0)
                    if len(listener.pending) == queued:
                        break
                batch, listener.pending = listener.pending, []
                _wake(self._producer_waiter)
                final = next((i for i, chunk in enumerate(batch) if self._is_final(chunk)), None)
                if final is not None:
                    batch = batch[: final + 1]
                if batch:
                    yield b"".join(batch)
                if final is not None or listener.cut:
                    return
        finally:
            listener.stop_heartbeat()
            self._detach(listener)

    @staticmethod
    def _is_final(chunk: bytes) -> bool:
        return b"\nevent: done\n" in chunk or b"\nevent: error\n" in chunk

    def _attach(self, listener: Listener) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self._listener is not None:
            self._listener.cut_now()  # one response per run: a newer one takes over
        self._listener = listener
        _wake(self._producer_waiter)

    def _detach(self, listener: Listener) -> None:
        if self._listener is not listener:
            return
        self._listener = None
        _wake(self._producer_waiter)
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
                run._listener.cut_now()  # pylint: disable=protected-access
                count += 1
        return count

    def runs(self) -> list[Any]:
        return list(self._runs.values())
