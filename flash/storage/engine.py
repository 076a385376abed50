"""The in-memory store behind `LocalSharedStorage`: keys with TTL and bounded per-topic logs.

Thread-safe (the owner process serves other workers from threads) and asyncio-friendly: an async
subscriber registers a wake-up callback instead of holding a thread while it waits.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import Callable

from .subscription import Batch

DEFAULT_BUFFER = 2048  # messages a topic keeps for replay
_SWEEP_EVERY = 1024  # sets between sweeps of expired keys (bounds memory held by dead keys)


class _Topic:
    __slots__ = ("log", "head", "listeners")

    def __init__(self, size: int) -> None:
        self.log: deque[tuple[int, bytes]] = deque(maxlen=size)
        self.head = 0
        self.listeners: set[Callable[[], None]] = set()


class MemoryEngine:
    def __init__(self, buffer_size: int = DEFAULT_BUFFER) -> None:
        if buffer_size < 1:
            raise ValueError("buffer_size must be at least 1")
        self.buffer_size = buffer_size
        self._kv: dict[str, tuple[bytes, float | None]] = {}
        self._topics: dict[str, _Topic] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._sets = 0

    # --- key/value ----------------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._kv.get(key)
            if item is None:
                return None
            raw, expires = item
            if expires is not None and expires <= time.monotonic():
                del self._kv[key]
                return None
            return raw

    def set(self, key: str, raw: bytes, ttl: float | None) -> None:
        expires = time.monotonic() + ttl if ttl is not None else None
        with self._lock:
            self._kv[key] = (raw, expires)
            self._sets += 1
            if self._sets % _SWEEP_EVERY == 0:
                now = time.monotonic()
                for dead in [k for k, (_, exp) in self._kv.items() if exp is not None and exp <= now]:
                    del self._kv[dead]

    def delete(self, key: str) -> None:
        with self._lock:
            self._kv.pop(key, None)

    # --- pub/sub ------------------------------------------------------------------------
    def _topic(self, topic: str) -> _Topic:
        found = self._topics.get(topic)
        if found is None:
            found = self._topics[topic] = _Topic(self.buffer_size)
        return found

    def publish(self, topic: str, raw: bytes) -> int:
        with self._lock:
            log = self._topic(topic)
            log.head += 1
            log.log.append((log.head, raw))
            listeners = list(log.listeners)
            self._changed.notify_all()
        for wake in listeners:
            wake()
        return log.head

    def head(self, topic: str) -> int:
        with self._lock:
            found = self._topics.get(topic)
            return found.head if found else 0

    def read(self, topic: str, after: int, limit: int) -> Batch:
        with self._lock:
            return self._read(topic, after, limit)

    def _read(self, topic: str, after: int, limit: int) -> Batch:
        found = self._topics.get(topic)
        head = found.head if found else 0
        if after > head:  # a cursor from before the store was reset
            return Batch([], True)
        if after == head:
            return Batch([], False)
        log = found.log  # type: ignore[union-attr]
        first = log[0][0]
        if after + 1 < first:
            return Batch([], True)
        start = after + 1 - first
        return Batch([log[i] for i in range(start, min(len(log), start + limit))], False)

    def poll(self, topic: str, after: int, timeout: float, limit: int) -> Batch:
        """Blocking read: waits up to `timeout` s for a message after `after`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                batch = self._read(topic, after, limit)
                remaining = deadline - time.monotonic()
                if batch.entries or batch.gap or remaining <= 0:
                    return batch
                self._changed.wait(remaining)

    async def apoll(self, topic: str, after: int, timeout: float, limit: int) -> Batch:
        """`poll` for the event loop: waits on a wake-up callback, not a thread."""
        batch = self.read(topic, after, limit)
        if batch.entries or batch.gap:
            return batch
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def wake() -> None:
            try:
                loop.call_soon_threadsafe(woken.set)
            except RuntimeError:  # the loop closed
                pass

        with self._lock:
            log = self._topic(topic)
            log.listeners.add(wake)
        try:
            batch = self.read(topic, after, limit)  # published between the read and the listener
            if not (batch.entries or batch.gap):
                try:
                    await asyncio.wait_for(woken.wait(), timeout)
                except asyncio.TimeoutError:
                    pass
                batch = self.read(topic, after, limit)
            return batch
        finally:
            with self._lock:
                log.listeners.discard(wake)
