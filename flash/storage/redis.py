"""`RedisSharedStorage`: shared storage on Redis, for any number of processes and hosts.

Why Redis Streams: a stream is an ordered log with ids, so a subscriber resumes from any position
(`XREAD` after an id) and `MAXLEN` bounds the window, exactly the replay contract. A small Lua
script numbers and appends a message in one step (`INCR` then `XADD <seq>-0`), so concurrent
publishers on many hosts still produce one order. Keys are plain Redis strings (`PX` for TTL).

The sync API uses redis-py's sync client; the async API its asyncio client (one per event loop),
and all async subscriptions of a loop share one reader task (`redis_reader.py`), woken by the
doorbell every publish rings, so a thousand subscriptions cost one connection, not a thousand
threads or sockets. Each subscription queues at most `BATCH_LIMIT` messages; a slower consumer
is simply read for less often and, if it falls out of the Redis window, gets `SharedStorageGap`.
"""
from __future__ import annotations

import asyncio
import os
import threading
import weakref
from typing import Any, AsyncGenerator

from .base import BaseSharedStorage, Subscription, check_topic_ttl, check_ttl
from .codec import decode, encode
from .engine import DEFAULT_BUFFER
from .redis_reader import DOORBELL_LEN, RING_PAYLOAD_MAX, Reader, RedisSubscription, entries_of
from .subscription import Batch

_DEFAULT_URL = "redis://localhost:6379/0"

# KEYS: sequence counter, stream, doorbell. ARGV: encoded message, window size, doorbell length,
# largest message that rides in its ring.
# Returns the sequence. If the counter was lost (evicted, flushed) while the stream survived,
# continue after the stream. The ring tells async readers which stream to read (redis_reader.py).
_PUBLISH_LUA = """
local seq = redis.call('INCR', KEYS[1])
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if last[1] then
  local last_seq = tonumber(string.match(last[1][1], '^(%d+)'))
  if last_seq >= seq then
    seq = last_seq + 1
    redis.call('SET', KEYS[1], seq)
  end
end
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], seq .. '-0', 'm', ARGV[1])
if #ARGV[1] <= tonumber(ARGV[4]) then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'k', KEYS[2], 's', seq, 'm', ARGV[1])
else
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'k', KEYS[2])
end
return seq
"""


def _redis() -> Any:
    try:
        import redis  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise ImportError('RedisSharedStorage needs redis: pip install "dash-flash[redis]"') from exc
    return redis


def _reconnecting(asynchronous: bool) -> dict[str, Any]:
    """Client options: a command on a connection Redis closed (a restart, an idle timeout) is
    sent once more on a fresh one, instead of failing the first caller after every restart."""
    redis = _redis()
    from redis.backoff import NoBackoff  # pylint: disable=import-outside-toplevel

    if asynchronous:
        from redis.asyncio.retry import Retry  # pylint: disable=import-outside-toplevel
    else:
        from redis.retry import Retry  # type: ignore[assignment]  # pylint: disable=import-outside-toplevel
    return {"retry": Retry(NoBackoff(), 1), "retry_on_error": [redis.ConnectionError]}


class _LoopState:
    """The asyncio client, script and shared reader of one event loop.

    The client's connections belong to the loop; they must be closed while it still runs. A
    parked async generator does that: event loops close every live async generator when they
    shut down (`asyncio.run`, Quart's serve), which runs its `finally` on the loop."""

    def __init__(self, storage: "RedisSharedStorage") -> None:
        self.client = _redis().asyncio.Redis.from_url(storage.url, **_reconnecting(True))
        self._scripts: dict[str, Any] = {}
        self.publish = self.script(_PUBLISH_LUA)
        self.reader = Reader(storage, self.client)
        self._closer = self._close_at_shutdown()
        asyncio.ensure_future(self._closer.__anext__())

    def script(self, source: str) -> Any:
        """A Lua script bound to this loop's client, registered once (EVALSHA, reloaded if Redis lost it)."""
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self.client.register_script(source)
        return script

    async def _close_at_shutdown(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await self.client.aclose()

    async def aclose(self) -> None:
        await self._closer.aclose()
        await self.client.aclose()  # in case the closer had not started yet (idempotent)


class RedisSharedStorage(BaseSharedStorage):
    """Shared storage on Redis.

    :param url: ``redis://`` / ``rediss://`` / ``unix://`` URL (default ``$REDIS_URL``, else
        ``redis://localhost:6379/0``).
    :param key_prefix: prefix of every key this storage writes (default ``"flash:ss"``).
    :param buffer_size: messages each topic's stream keeps for replay (``MAXLEN``, default 2048).
    """

    def __init__(self, url: str | None = None, key_prefix: str = "flash:ss",
                 buffer_size: int = DEFAULT_BUFFER) -> None:
        _redis()
        if buffer_size < 1:
            raise ValueError("buffer_size must be at least 1")
        self.url = url or os.environ.get("REDIS_URL") or _DEFAULT_URL
        self.key_prefix = key_prefix
        self.buffer_size = buffer_size
        self._sync: tuple[int, Any, Any] | None = None  # (pid, client, script)
        self._loops: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState]" = weakref.WeakKeyDictionary()
        self._guard = threading.Lock()

    # --- keys ---------------------------------------------------------------------------
    def key(self, name: str) -> str:
        return f"{self.key_prefix}:{name}"

    def kv_key(self, key: str) -> str:
        return self.key(f"kv:{key}")

    def seq_key(self, topic: str) -> str:
        return self.key(f"seq:{topic}")

    def stream_key(self, topic: str) -> str:
        return self.key(f"stream:{topic}")

    @property
    def doorbell_key(self) -> str:
        """Where every publish rings: the name of the stream it appended to (redis_reader.py)."""
        return self.key("doorbell")

    def seq_key_of_stream(self, stream_key: str) -> str:
        return self.seq_key(stream_key[len(self.key("stream:")):])

    # --- clients ------------------------------------------------------------------------
    def _client(self) -> tuple[Any, Any]:
        sync = self._sync
        if sync is None or sync[0] != os.getpid():  # none yet, or inherited through fork
            with self._guard:
                client = _redis().Redis.from_url(self.url, **_reconnecting(False))
                sync = self._sync = (os.getpid(), client, client.register_script(_PUBLISH_LUA))
        return sync[1], sync[2]

    def loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            state = self._loops[loop] = _LoopState(self)
        return state

    def start(self) -> None:
        self._client()[0].ping()

    def close(self) -> None:
        sync, self._sync = self._sync, None
        if sync is not None and sync[0] == os.getpid():
            sync[1].close()

    async def aclose(self) -> None:
        state = self._loops.pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state.aclose()
        self.close()

    # --- key/value ----------------------------------------------------------------------
    @staticmethod
    def _px(ttl: float | None) -> int | None:
        ttl = check_ttl(ttl)
        return None if ttl is None else max(1, round(ttl * 1000))

    def get(self, key: str, default: Any = None) -> Any:
        raw = self._client()[0].get(self.kv_key(key))
        return default if raw is None else decode(raw)

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        self._client()[0].set(self.kv_key(key), encode(value), px=self._px(ttl))

    def delete(self, key: str) -> None:
        self._client()[0].delete(self.kv_key(key))

    async def aget(self, key: str, default: Any = None) -> Any:
        raw = await self.loop_state().client.get(self.kv_key(key))
        return default if raw is None else decode(raw)

    async def aset(self, key: str, value: Any, ttl: float | None = None) -> None:
        await self.loop_state().client.set(self.kv_key(key), encode(value), px=self._px(ttl))

    async def adelete(self, key: str) -> None:
        await self.loop_state().client.delete(self.kv_key(key))

    # --- pub/sub ------------------------------------------------------------------------
    def publish(self, topic: str, message: Any, ttl: float | None = None) -> int:
        check_topic_ttl(ttl)
        script = self._client()[1]
        return int(script(keys=[self.seq_key(topic), self.stream_key(topic), self.doorbell_key],
                          args=[encode(message), self.buffer_size, DOORBELL_LEN, RING_PAYLOAD_MAX]))

    async def apublish(self, topic: str, message: Any, ttl: float | None = None) -> int:
        check_topic_ttl(ttl)
        script = self.loop_state().publish
        return int(await script(keys=[self.seq_key(topic), self.stream_key(topic), self.doorbell_key],
                                args=[encode(message), self.buffer_size, DOORBELL_LEN, RING_PAYLOAD_MAX]))

    def _head(self, topic: str) -> int:
        return int(self._client()[0].get(self.seq_key(topic)) or 0)

    def poll(self, topic: str, after: int, timeout: float, limit: int) -> Batch:
        """Sync long-poll (sync iteration only; async subscriptions use the shared reader)."""
        if after > self._head(topic):
            return Batch([], True)
        result = self._client()[0].xread({self.stream_key(topic): f"{after}-0"}, count=limit,
                                         block=max(1, int(timeout * 1000)))
        if not result:
            return Batch([], False)
        entries = entries_of(result[0][1])
        if entries[0][0] != after + 1:
            return Batch([], True)
        return Batch(entries, False)

    async def apoll(self, topic: str, after: int, timeout: float, limit: int) -> Batch:
        return await asyncio.to_thread(self.poll, topic, after, timeout, limit)

    def subscribe(self, topic: str, replay_from: int | None = None) -> Subscription:
        start = self._head(topic) if replay_from is None else replay_from
        return RedisSubscription(self, topic, start)

    async def asubscribe(self, topic: str, replay_from: int | None = None) -> Subscription:
        if replay_from is None:
            replay_from = int(await self.loop_state().client.get(self.seq_key(topic)) or 0)
        return RedisSubscription(self, topic, replay_from)
