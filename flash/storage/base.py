"""The shared-storage contract every backend meets (Dash 4.5's names: `BaseSharedStorage`, ...).

Why one contract: app code (and Flash's later channels and stream bus) is written once and runs on
the in-memory, diskcache or Redis backend unchanged; only the constructor differs.

Semantics:
- Values and messages are JSON-compatible (dict, list, str, int, float, bool, None). They are
  encoded on the way in, so a value is a copy: mutating it after `set` changes nothing stored.
- `set(key, value, ttl=None)`: `ttl` is seconds (float); after it the key reads as missing.
- Each `publish` to a topic gets the next sequence number of that topic (1, 2, ...; 0 means
  "before the first message"). A subscription delivers, in order, every message published after
  its start position; `subscribe(topic, replay_from=seq)` starts right after `seq`, replaying
  what is still buffered. A topic keeps a bounded window of messages (`buffer_size`); a consumer
  that needs one that fell out of the window gets `SharedStorageGap`, never a silent hole.
- The sync methods block the calling thread; each has an `a`-prefixed async twin (`aget`, `aset`,
  `adelete`, `apublish`, `asubscribe`) that never blocks the event loop.
"""
from __future__ import annotations

import abc
import asyncio
from typing import Any, AsyncIterator, Iterator


class SharedStorageError(Exception):
    """A shared-storage operation failed, or shared storage is not configured."""


class SharedStorageGap(SharedStorageError):
    """Messages a subscription should have delivered are gone (buffer overran or store reset).

    The consumer must treat this as lost data (e.g. reload its state), not as a clean end."""


class Subscription(abc.ABC):
    """An ordered, replayable view of one topic.

    Iterate with `for message in sub` or `async for message in sub`; `iter_with_seq()` /
    `aiter_with_seq()` yield `(seq, message)` pairs so a consumer can remember `sub.cursor` and
    resume later with `subscribe(topic, replay_from=cursor)`. Iteration ends when the subscription
    is closed. Async iteration is cancellation-safe: cancelling the consuming task closes it.
    """

    topic: str

    @property
    @abc.abstractmethod
    def cursor(self) -> int:
        """Sequence number of the last message delivered (the start position before any)."""

    @abc.abstractmethod
    def iter_with_seq(self) -> Iterator[tuple[int, Any]]:
        ...

    @abc.abstractmethod
    def aiter_with_seq(self) -> AsyncIterator[tuple[int, Any]]:
        ...

    @abc.abstractmethod
    def close(self) -> None:
        """Stop delivering; an iteration in progress ends (async: within one poll cycle)."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool:
        ...

    def __iter__(self) -> Iterator[Any]:
        for _seq, message in self.iter_with_seq():
            yield message

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Any]:
        async for _seq, message in self.aiter_with_seq():
            yield message

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> "Subscription":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()


class BaseSharedStorage(abc.ABC):
    """Key/value with TTL plus ordered, replayable pub/sub, shared by every worker using it.

    Safe to construct before a server forks its workers: backends connect lazily, per process.
    The async twins default to running the sync method in a thread; backends with a native
    async client override them.
    """

    def start(self) -> None:
        """Connect / elect now instead of on first use. Idempotent."""

    def close(self) -> None:
        """Release this process's handles. Idempotent."""

    async def aclose(self) -> None:
        self.close()

    @abc.abstractmethod
    def get(self, key: str, default: Any = None) -> Any:
        ...

    @abc.abstractmethod
    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        ...

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        ...

    @abc.abstractmethod
    def publish(self, topic: str, message: Any) -> int:
        """Append `message` to `topic`; returns its sequence number."""

    @abc.abstractmethod
    def subscribe(self, topic: str, replay_from: int | None = None) -> Subscription:
        """Subscribe from the topic's current head, or right after `replay_from`."""

    async def aget(self, key: str, default: Any = None) -> Any:
        return await asyncio.to_thread(self.get, key, default)

    async def aset(self, key: str, value: Any, ttl: float | None = None) -> None:
        await asyncio.to_thread(self.set, key, value, ttl)

    async def adelete(self, key: str) -> None:
        await asyncio.to_thread(self.delete, key)

    async def apublish(self, topic: str, message: Any) -> int:
        return await asyncio.to_thread(self.publish, topic, message)

    async def asubscribe(self, topic: str, replay_from: int | None = None) -> Subscription:
        """`subscribe` without blocking the loop while the topic's head is read."""
        return await asyncio.to_thread(self.subscribe, topic, replay_from)


def check_ttl(ttl: float | None) -> float | None:
    """A TTL must be a positive number of seconds (None: never expires)."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
        raise ValueError(f"ttl must be a positive number of seconds or None, not {ttl!r}")
    return float(ttl)
