"""`DiskcacheSharedStorage`: shared storage in a `diskcache.Cache` directory (one host).

Why: every process that opens the same directory shares the data, with no owner process and no
service, and the data survives restarts. Pub/sub is an append log in the cache: inside one
SQLite transaction a per-topic counter gives the message its sequence number, the message is
stored under it, and the message `buffer_size` places back is deleted, so a topic holds a bounded
window. Subscribers poll (every `poll_interval` s); not for pods, whose disks are not shared.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
from typing import Any

from .base import BaseSharedStorage, Subscription, check_topic_ttl, check_ttl
from .codec import decode, encode
from .engine import DEFAULT_BUFFER
from .subscription import Batch, PollingSubscription


def _require_diskcache() -> Any:
    try:
        import diskcache
    except ImportError as exc:
        raise ImportError('DiskcacheSharedStorage needs diskcache: pip install "dash-flash[diskcache]"') from exc
    return diskcache


class DiskcacheSharedStorage(BaseSharedStorage):
    """Shared storage on a diskcache directory.

    :param directory: the cache directory (default: one under the temp dir, derived from the
        working directory, so the workers of one app agree). Ignored when `cache` is given.
    :param cache: an existing `diskcache.Cache` to share (e.g. the one of a `DiskcacheManager`).
    :param buffer_size: messages each topic keeps for replay (default 2048).
    :param poll_interval: seconds between a waiting subscriber's looks at the log (default 0.05).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        cache: Any = None,
        buffer_size: int = DEFAULT_BUFFER,
        poll_interval: float = 0.05,
    ) -> None:
        if buffer_size < 1:
            raise ValueError("buffer_size must be at least 1")
        if directory is not None and not isinstance(directory, (str, os.PathLike)):
            # Dash 4.5's signature is (cache, directory, ...): a Cache given first is the cache.
            directory, cache = (cache if isinstance(cache, (str, os.PathLike)) else None), directory
        if cache is None:
            if directory is None:
                digest = hashlib.sha256(os.getcwd().encode()).hexdigest()[:16]
                directory = os.path.join(tempfile.gettempdir(), f"flash-ss-diskcache-{digest}")
            cache = _require_diskcache().Cache(os.fspath(directory))
        self.cache = cache
        self.buffer_size = buffer_size
        self.poll_interval = poll_interval

    # --- key layout (the `ss:` prefix keeps clear of a shared DiskcacheManager's keys) ------
    @staticmethod
    def _kv(key: str) -> str:
        return f"ss:kv:{key}"

    @staticmethod
    def _seq(topic: str) -> str:
        return f"ss:seq:{topic}"

    @staticmethod
    def _msg(topic: str, seq: int) -> str:
        return f"ss:msg:{topic}:{seq}"

    def close(self) -> None:
        self.cache.close()  # diskcache reopens on next use

    # --- key/value ----------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        raw = self.cache.get(self._kv(key))
        return default if raw is None else decode(raw)

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        self.cache.set(self._kv(key), encode(value), expire=check_ttl(ttl))

    def delete(self, key: str) -> None:
        self.cache.delete(self._kv(key))

    # --- pub/sub ------------------------------------------------------------------------
    def publish(self, topic: str, message: Any, ttl: float | None = None) -> int:
        check_topic_ttl(ttl)
        raw = encode(message)
        with self.cache.transact():
            seq: int = self.cache.incr(self._seq(topic), default=0)
            self.cache.set(self._msg(topic, seq), raw)
            if seq > self.buffer_size:
                self.cache.delete(self._msg(topic, seq - self.buffer_size))
        return seq

    def _head(self, topic: str) -> int:
        return int(self.cache.get(self._seq(topic), 0))

    def _read(self, topic: str, after: int, limit: int) -> Batch:
        head = self._head(topic)
        if after > head:  # the log was cleared under this cursor
            return Batch([], True)
        entries: list[tuple[int, bytes]] = []
        for seq in range(after + 1, min(head, after + limit) + 1):
            raw = self.cache.get(self._msg(topic, seq))
            if raw is None:  # published in one transaction with its number: it was trimmed
                return Batch(entries, not entries)
            entries.append((seq, raw))
        return Batch(entries, False)

    def poll(self, topic: str, after: int, timeout: float, limit: int) -> Batch:
        deadline = time.monotonic() + timeout
        while True:
            batch = self._read(topic, after, limit)
            if batch.entries or batch.gap or time.monotonic() >= deadline:
                return batch
            time.sleep(self.poll_interval)

    async def apoll(self, topic: str, after: int, timeout: float, limit: int) -> Batch:
        deadline = time.monotonic() + timeout
        while True:
            batch = await asyncio.to_thread(self._read, topic, after, limit)
            if batch.entries or batch.gap or time.monotonic() >= deadline:
                return batch
            await asyncio.sleep(self.poll_interval)

    def subscribe(self, topic: str, replay_from: int | None = None) -> Subscription:
        start = self._head(topic) if replay_from is None else replay_from
        return PollingSubscription(self, topic, start, timeout=1.0)
