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

On Dash 4.5, which ships this API itself, Dash's classes are the roots: `SharedStorageError` and
`SharedStorageGap` *are* Dash's (an `except dash.SharedStorageError` catches Flash's errors), and
Flash's `BaseSharedStorage`/`Subscription` subclass Dash's, so every Flash backend is a
`dash.BaseSharedStorage` that Dash accepts as its app's storage (one object for both). All of
these are public Dash names (`dash.BaseSharedStorage`, ...): no private name is involved.
"""

from __future__ import annotations

import abc
import asyncio
import math
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterator

import dash

# mypy checks the first branch on either Dash; at run time Dash 4.5 takes the second.
if TYPE_CHECKING or not hasattr(dash, "BaseSharedStorage"):
    _DashStorage = abc.ABC
    _DashSubscription = abc.ABC

    class SharedStorageError(Exception):
        """A shared-storage operation failed, or shared storage is not configured."""

    class SharedStorageGap(SharedStorageError):
        """Messages a subscription should have delivered are gone (buffer overran or store reset).

        The consumer must treat this as lost data (e.g. reload its state), not as a clean end."""
else:  # Dash 4.5
    _DashStorage = dash.BaseSharedStorage
    _DashSubscription = dash.Subscription
    SharedStorageError = dash.SharedStorageError
    SharedStorageGap = dash.SharedStorageGap

# Whether the installed Dash has shared storage of its own (Dash 4.5).
DASH_HAS_SHARED_STORAGE = hasattr(dash, "BaseSharedStorage")

# Dash 4.5's shortest topic lifetime (a reconnecting reader may be away for a second).
MIN_TOPIC_TTL = 1.0


class Subscription(_DashSubscription):
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
    def poll(self, timeout: float = 0.0) -> list[tuple[int, Any]]:
        """The `(seq, message)` pairs published since the cursor (at most one batch), waiting up
        to `timeout` seconds for one; the cursor moves past them. `SharedStorageGap` if the
        buffer overran. `timeout=0` never blocks (Dash 4.5's one-shot primitive)."""

    @abc.abstractmethod
    def iter_with_seq(self) -> Iterator[tuple[int, Any]]: ...

    @abc.abstractmethod
    def aiter_with_seq(self) -> AsyncIterator[tuple[int, Any]]: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Stop delivering; an iteration in progress ends (async: within one poll cycle)."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool: ...

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


class BaseSharedStorage(_DashStorage):
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
    def get(self, key: str, default: Any = None) -> Any: ...

    @abc.abstractmethod
    def set(self, key: str, value: Any, ttl: float | None = None) -> None: ...

    @abc.abstractmethod
    def delete(self, key: str) -> None: ...

    @abc.abstractmethod
    def publish(self, topic: str, message: Any, ttl: float | None = None) -> int:
        """Append `message` to `topic`; returns its sequence number. `ttl` is Dash 4.5's topic
        lifetime (None, or a finite number of seconds >= 1): it is checked as Dash checks it, and
        a topic keeps its last `buffer_size` messages whatever it says."""

    @abc.abstractmethod
    def subscribe(self, topic: str, replay_from: int | None = None) -> Subscription:
        """Subscribe from the topic's current head, or right after `replay_from`."""

    async def aget(self, key: str, default: Any = None) -> Any:
        return await asyncio.to_thread(self.get, key, default)

    async def aset(self, key: str, value: Any, ttl: float | None = None) -> None:
        await asyncio.to_thread(self.set, key, value, ttl)

    async def adelete(self, key: str) -> None:
        await asyncio.to_thread(self.delete, key)

    async def apublish(self, topic: str, message: Any, ttl: float | None = None) -> int:
        return await asyncio.to_thread(self.publish, topic, message, ttl)

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


def check_topic_ttl(ttl: float | None) -> None:
    """A topic's `ttl` (Dash 4.5's rule): None, or a finite number of seconds, at least 1."""
    if ttl is None:
        return
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not math.isfinite(ttl) or ttl < MIN_TOPIC_TTL:
        raise SharedStorageError(f"topic ttl must be None or a finite {MIN_TOPIC_TTL}s or more, got {ttl!r}")


async def asubscribe(storage: Any, topic: str, replay_from: int | None = None) -> Any:
    """`storage.asubscribe(...)`; for a backend that has none (one of Dash 4.5's own), its
    `subscribe` in a thread."""
    method = getattr(storage, "asubscribe", None)
    if method is not None:
        return await method(topic, replay_from)
    return await asyncio.to_thread(storage.subscribe, topic, replay_from)


async def aclose(storage: Any) -> None:
    """`storage.aclose()`; for a backend that has none (one of Dash 4.5's own), its `close`."""
    method = getattr(storage, "aclose", None)
    if method is not None:
        await method()
    else:
        await asyncio.to_thread(storage.close)
