"""Channels: one publish, every subscribed page, on every worker.

Why a layer over shared storage's pub/sub: a thousand pages watching one feed must not cost a
thousand Redis subscriptions, a thousand producers, or let one slow browser hold the others
back. Per worker and topic there is one `_TopicHub`: one storage subscription (none without
shared storage: publishes fan out in memory), fanned out to each subscriber's own bounded queue
(`queue` messages, oldest dropped first; `latest=True` keeps only the newest), and at most one
producer (`@channel.producer`) for the whole cluster: started when the topic's first subscriber
arrives, stopped after its last leaves; with Redis a 3 s lease makes one worker run it and
another take over when that one stops or dies.

    prices = Channel("prices")

    @prices.producer
    async def feed():                     # runs only while somebody watches
        while True:
            yield {"price": await read_price()}
            await asyncio.sleep(1)

    @event_callback(Input("url", "pathname"))
    async def watch(_):
        async for message in prices.subscribe():
            yield stream_props("price", {"children": message["price"]})

`await publish("prices", {...})` (or `prices.publish`) from any callback, stream or job of the
app; from a plain script `Channel("prices").publish_sync(msg, storage=RedisSharedStorage(url))`.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import secrets
import weakref
from typing import Any, AsyncIterator, Callable

import dash

from .storage.base import BaseSharedStorage, asubscribe

logger = logging.getLogger("flash.channels")
TOPIC_PREFIX = "_flash/chan/"
LEASE_MS = 3000
TICK = 1.0
DEFAULT_QUEUE = 100
# The first Channel made for each name, while anything holds it (the module that made it, a
# producer, a hub with subscribers): weak, so topic names made on the fly (`publish(f"chat-{id}")`)
# leave with their last use instead of growing it.
_NAMED: "weakref.WeakValueDictionary[str, Channel]" = weakref.WeakValueDictionary()
# name -> (its channel, its producer): one per `@Channel(name).producer` in the app's code
_PRODUCERS: dict[str, tuple["Channel", Callable[[], AsyncIterator[Any]]]] = {}
_HUBS: dict[tuple[int, int, str], "_TopicHub"] = {}  # (app, loop, name): live hubs only; `_stop` removes
# Hub tasks cancelled but not ended yet (a producer lead releases its Redis lease on the way
# out): each leaves this set when it is done, so none runs unreferenced.
_ENDING: set["asyncio.Task[None]"] = set()


def _end(task: "asyncio.Task[None]") -> None:
    if not task.done():
        _ENDING.add(task)
        task.add_done_callback(_ENDING.discard)
        task.cancel()


def _storage_of(app: Any) -> BaseSharedStorage | None:
    return getattr(app, "_shared_storage_backend", None)


class ChannelSubscription:
    """One subscriber's view: a bounded queue the hub fills without ever waiting for it."""

    def __init__(self, hub: "_TopicHub", queue: int, latest: bool) -> None:
        self._hub = hub
        self._pending: collections.deque[Any] = collections.deque(maxlen=1 if latest else queue)
        self._waiter: asyncio.Future[None] | None = None  # a plain future: many idle subscribers stay small
        self.dropped = 0  # messages this subscriber was too slow for
        self.closed = False

    def offer(self, message: Any) -> None:
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
        self._pending.append(message)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def ready(self) -> None:
        """Wait until publishes reach this subscriber (its worker's storage subscription is up)."""
        await self._hub.listening.wait()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._wake()
            self._hub.leave(self)

    def __aiter__(self) -> "ChannelSubscription":
        return self

    async def __anext__(self) -> Any:
        while not self._pending:
            if self.closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            except asyncio.CancelledError:
                self.close()
                raise
            finally:
                self._waiter = None
        return self._pending.popleft()

    async def aclose(self) -> None:
        self.close()


class _TopicHub:
    """A topic's subscribers on this worker and event loop, and what feeds them."""

    def __init__(self, channel: "Channel", app: Any, key: tuple[int, int, str]) -> None:
        self.channel = channel
        self.app = app
        self.storage = _storage_of(app)
        self.key = key
        self.subscribers: set[ChannelSubscription] = set()
        self.worker = secrets.token_hex(6)
        self._tasks: list[asyncio.Task[None]] = []
        self._producer: asyncio.Task[None] | None = None
        self._holding = False  # this worker holds the producer lease (Redis)
        self.listening = asyncio.Event()  # from now on publishes reach this hub
        if self.storage is None:
            self.listening.set()

    def join(self, queue: int, latest: bool) -> ChannelSubscription:
        sub = ChannelSubscription(self, queue, latest)
        self.subscribers.add(sub)
        if len(self.subscribers) == 1:
            self._start()
        return sub

    def leave(self, sub: ChannelSubscription) -> None:
        self.subscribers.discard(sub)
        if not self.subscribers:
            self._stop()

    def fan_out(self, message: Any) -> None:
        for sub in list(self.subscribers):
            sub.offer(message)

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.storage is not None:
            self._tasks.append(loop.create_task(self._read()))
        if _PRODUCERS.get(self.channel.name) is not None:
            self._tasks.append(loop.create_task(self._lead()))

    def _stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            _end(task)
        self._stop_producer()
        _HUBS.pop(self.key, None)

    async def _read(self) -> None:
        assert self.storage is not None
        while True:
            try:
                sub = await asubscribe(self.storage, self.channel.topic)  # a Dash 4.5 backend has no asubscribe
                self.listening.set()
                async for message in sub:
                    self.fan_out(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # storage away: retry
                logger.warning("Channel %r interrupted (%s); resubscribing", self.channel.name, exc)
                await asyncio.sleep(TICK)

    # --- the one producer -----------------------------------------------------------------
    async def _lead(self) -> None:
        """Run the producer while this worker holds the topic's lease (always, without Redis)."""
        state = self._redis_state()
        client = None if state is None else state.client
        lease = f"{getattr(self.storage, 'key_prefix', '')}:chan-producer:{self.channel.name}"
        try:
            while True:
                if client is None:
                    held = True
                else:
                    try:
                        held = bool(await client.set(lease, self.worker, px=LEASE_MS, nx=True)) or (
                            await client.get(lease) == self.worker.encode() and bool(await client.pexpire(lease, LEASE_MS))
                        )
                    except Exception as exc:
                        logger.warning("Channel %r producer lease failed (%s)", self.channel.name, exc)
                        held = False
                self._holding = held and client is not None
                if held and self._producer is None:
                    self._producer = asyncio.get_running_loop().create_task(self._produce())
                elif not held:
                    self._stop_producer()
                await asyncio.sleep(TICK if client is not None else 3600)
        finally:
            if self._holding:  # let another worker's watchers take over at once
                self._holding = False
                await self._release(state, lease)  # in this task (kept in _ENDING meanwhile)

    async def _release(self, state: Any, lease: str) -> None:
        """Free the lease, unless the storage was closed first (its lapse frees it then): a
        command on a closed client opens a connection that nobody closes."""
        if state.closed:
            return
        try:
            with state.in_use():
                if await state.client.get(lease) == self.worker.encode():
                    await state.client.delete(lease)
        except Exception:  # it lapses anyway
            pass

    def _redis_state(self) -> Any:
        """The storage's per-loop Redis state (client, closed flag); None without Redis."""
        loop_state = getattr(self.storage, "loop_state", None)
        return loop_state() if loop_state is not None else None

    async def _produce(self) -> None:
        produce = _PRODUCERS[self.channel.name][1]
        try:
            async for message in produce():
                await self.channel.publish(message, app=self.app)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("Producer of channel %r failed", self.channel.name)
        finally:
            self._producer = None

    def _stop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            _end(producer)


class Channel:
    """A named topic every page of the app can watch (see the module docstring)."""

    def __init__(self, name: str, queue: int = DEFAULT_QUEUE, latest: bool = False) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("A channel needs a non-empty name.")
        if isinstance(queue, bool) or not isinstance(queue, int) or queue < 1:
            raise ValueError("queue must be a positive number of messages.")
        self.name = name
        self.topic = TOPIC_PREFIX + name
        self.queue = queue
        self.latest = latest
        _NAMED.setdefault(name, self)

    def producer(self, func: Callable[[], AsyncIterator[Any]]) -> Callable[[], AsyncIterator[Any]]:
        """Decorate an async generator: each yield is published while the channel has watchers.
        One per channel name (a module imported twice replaces it)."""
        if not inspect.isasyncgenfunction(func):
            raise TypeError(f"@Channel({self.name!r}).producer needs an async generator function (async def ... yield message).")
        _PRODUCERS[self.name] = (self, func)
        return func

    def _hub(self, app: Any) -> _TopicHub:
        key = (id(app), id(asyncio.get_running_loop()), self.name)
        hub = _HUBS.get(key)
        if hub is None:
            hub = _HUBS[key] = _TopicHub(self, app, key)
        return hub

    def subscribe(self, app: Any = None, queue: int | None = None, latest: bool | None = None) -> ChannelSubscription:
        """Messages published from now on, in order; iterate with `async for`."""
        hub = self._hub(app or dash.get_app())
        return hub.join(queue or self.queue, self.latest if latest is None else latest)

    async def publish(self, message: Any, app: Any = None) -> None:
        """Send `message` to every subscriber, on every worker sharing the app's storage."""
        app = app or dash.get_app()
        storage = _storage_of(app)
        if storage is not None:
            await storage.apublish(self.topic, message)
            return
        hub = _HUBS.get((id(app), id(asyncio.get_running_loop()), self.name))
        if hub is not None:
            hub.fan_out(message)

    def publish_sync(self, message: Any, storage: BaseSharedStorage) -> int:
        """Publish from outside the app (a script, a Celery task) through its shared storage."""
        return storage.publish(self.topic, message)


def channel(name: str) -> Channel:
    """The app-wide `Channel` called `name` (made on first use)."""
    found = _NAMED.get(name)
    if found is None:
        found = _NAMED[name] = Channel(name)
    return found


async def publish(topic: str, message: Any) -> None:
    """`await publish("prices", {...})`: the channel `topic`'s publish."""
    await channel(topic).publish(message)


def subscribe(topic: str, queue: int | None = None, latest: bool | None = None) -> ChannelSubscription:
    return channel(topic).subscribe(queue=queue, latest=latest)
