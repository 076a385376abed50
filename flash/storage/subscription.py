"""One subscription loop for every backend: poll a topic past a cursor, in bounded batches.

Why polling with a cursor: the cursor *is* the replay position, so resuming, replaying and
detecting gaps are the same code path; and a batch limit bounds what one subscription holds in
memory however far behind it is (it reads the next batch only after the consumer took this one).
"""

from __future__ import annotations

import threading
from typing import Any, AsyncIterator, Callable, Iterator, NamedTuple, Protocol

from .base import SharedStorageGap, Subscription
from .codec import decode

BATCH_LIMIT = 256  # messages one poll returns at most


class Batch(NamedTuple):
    entries: list[tuple[int, bytes]]  # (seq, encoded message), ascending, contiguous after `after`
    gap: bool  # the message after `after` is gone (trimmed, or the topic was reset)


class TopicReader(Protocol):
    """What a backend provides: wait up to `timeout` s for messages after `after`."""

    def poll(self, topic: str, after: int, timeout: float, limit: int) -> Batch: ...

    async def apoll(self, topic: str, after: int, timeout: float, limit: int) -> Batch: ...


class PollingSubscription(Subscription):
    """A `Subscription` driven by a `TopicReader`. `timeout` bounds how long a close() from another
    thread or task may take to end an iteration (a cancelled task ends at once)."""

    def __init__(
        self, reader: TopicReader, topic: str, start: int, timeout: float = 1.0, on_close: Callable[[], None] | None = None
    ) -> None:
        self.topic = topic
        self._reader = reader
        self._cursor = start
        self._timeout = timeout
        self._closed = threading.Event()
        self._on_close = on_close

    @property
    def cursor(self) -> int:
        return self._cursor

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        if self._on_close is not None:
            self._on_close()

    def _gap(self) -> SharedStorageGap:
        return SharedStorageGap(f"messages after #{self._cursor} of topic {self.topic!r} are no longer buffered")

    def _take(self, batch: Batch) -> list[tuple[int, bytes]]:
        if batch.gap:
            raise self._gap()
        return batch.entries

    def poll(self, timeout: float = 0.0) -> list[tuple[int, Any]]:
        if self.closed:
            return []
        entries = self._take(self._reader.poll(self.topic, self._cursor, timeout, BATCH_LIMIT))
        if entries:
            self._cursor = entries[-1][0]
        return [(seq, decode(raw)) for seq, raw in entries]

    def iter_with_seq(self) -> Iterator[tuple[int, Any]]:
        try:
            while not self.closed:
                for seq, raw in self._take(self._reader.poll(self.topic, self._cursor, self._timeout, BATCH_LIMIT)):
                    if self.closed:
                        return
                    self._cursor = seq
                    yield seq, decode(raw)
        finally:
            self.close()

    async def aiter_with_seq(self) -> AsyncIterator[tuple[int, Any]]:
        try:
            while not self.closed:
                batch = await self._reader.apoll(self.topic, self._cursor, self._timeout, BATCH_LIMIT)
                for seq, raw in self._take(batch):
                    if self.closed:
                        return
                    self._cursor = seq
                    yield seq, decode(raw)
        finally:
            self.close()
