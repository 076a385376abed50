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
import contextlib
import os
import threading
import weakref
from typing import Any, AsyncGenerator, Iterator

from .base import BaseSharedStorage, Subscription, check_topic_ttl, check_ttl
from .codec import decode, encode
from .engine import DEFAULT_BUFFER
from .outage import OutageLog
from .redis_client import async_client
from .redis_reader import DOORBELL_LEN, READER_BLOCK_MS, RING_PAYLOAD_MAX, Reader, RedisSubscription, entries_of
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


def _where(url: str) -> str:
    """`host:port/db` of a Redis URL, without its password, for log lines."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or ''}"


def _redis() -> Any:
    try:
        import redis
    except ImportError as exc:
        raise ImportError('RedisSharedStorage needs redis: pip install "dash-flash[redis]"') from exc
    return redis


# The connection pool, the same on every redis-py the `redis` extra allows (>=5.0.1): blocking
# and bounded. redis-py 8's default asyncio pool holds 100 connections and raises
# `MaxConnectionsError` on the 101st concurrent command; 5.x's held 2**31. A thousand streams
# starting at once would either fail or open a thousand sockets; with a blocking pool a command
# finding every connection busy waits (at most `pool_timeout` seconds) for the next one free.
POOL_SIZE = 64  # connections per event loop (async) and per process (sync)
POOL_TIMEOUT_S = 10.0  # longest wait for a free connection; then `ConnectionError`
SOCKET_TIMEOUT_S = 10.0  # longest wait for one reply: a paused Redis fails commands, never hangs them
CONNECT_TIMEOUT_S = 5.0
CLOSE_WAIT_S = 1.0  # how long closing waits for commands already sent under `in_use`


def pool_options(storage: "RedisSharedStorage", asynchronous: bool) -> dict[str, Any]:
    """Keyword arguments of `BlockingConnectionPool.from_url` (the URL's own `?socket_timeout=`,
    `?max_connections=`... win). A command on a connection Redis closed (a restart, an idle
    timeout) is sent once more on a fresh one, instead of failing the first caller after every
    restart."""
    redis = _redis()
    from redis.backoff import NoBackoff

    if asynchronous:
        from redis.asyncio.retry import Retry
    else:
        from redis.retry import Retry  # type: ignore[assignment]
    return {
        "max_connections": storage.max_connections,
        "timeout": storage.pool_timeout,
        "socket_timeout": storage.socket_timeout,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "retry": Retry(NoBackoff(), 1),
        "retry_on_error": [redis.ConnectionError],
    }


def _started(agen: AsyncGenerator[None, None]) -> None:
    """Run `agen` up to its first `yield`, here and now: from then on the running loop knows it
    (and closes it at shutdown). Its body awaits nothing before that `yield`, so one `send`
    finishes the step; no task is needed (and none is left without an owner)."""
    try:
        agen.__anext__().send(None)
    except StopIteration:
        return
    raise RuntimeError("the closer awaited before its first yield")


class _LoopState:
    """The asyncio client, script and shared reader of one event loop.

    The client's connections belong to the loop; they must be closed while it still runs. A
    parked async generator does that: event loops close every live async generator when they
    shut down (`asyncio.run`, Quart's serve), which runs its `finally` on the loop."""

    def __init__(self, storage: "RedisSharedStorage") -> None:
        redis = _redis()
        self.pool = redis.asyncio.BlockingConnectionPool.from_url(storage.url, **pool_options(storage, True))
        self.client = async_client(redis, self.pool)  # cancellable on Python 3.11 too (redis_client.py)
        self._scripts: dict[str, Any] = {}
        self.publish = self.script(_PUBLISH_LUA)
        self.reader = Reader(storage, self.client)
        self.closed = False  # set once closing starts: a command sent after it would open a connection nobody closes
        self._users: set[asyncio.Task[Any]] = set()  # tasks inside `in_use`; its `finally` removes them
        self._closer = self._close_at_shutdown()
        _started(self._closer)

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
            await self._close_client()

    @contextlib.contextmanager
    def in_use(self) -> Iterator[None]:
        """Commands a task sends outside the storage's own calls (a lease released while a
        channel's hub stops): closing waits for them, as a connection that opens after the pool
        was closed is never closed."""
        task = asyncio.current_task()
        if task is None:
            yield
            return
        self._users.add(task)
        try:
            yield
        finally:
            self._users.discard(task)

    async def _close_client(self) -> None:
        self.closed = True
        users = self._users - {asyncio.current_task()}
        if users:
            await asyncio.wait(users, timeout=CLOSE_WAIT_S)
        await self.reader.stop()
        await self.client.aclose()
        await self.pool.disconnect()  # the client does not own a pool it was given

    async def aclose(self) -> None:
        await self._closer.aclose()
        await self._close_client()  # idempotent


class RedisSharedStorage(BaseSharedStorage):
    """Shared storage on Redis.

    :param url: ``redis://`` / ``rediss://`` / ``unix://`` URL (default ``$REDIS_URL``, else
        ``redis://localhost:6379/0``).
    :param key_prefix: prefix of every key this storage writes (default ``"flash:ss"``).
    :param buffer_size: messages each topic's stream keeps for replay (``MAXLEN``, default 2048).
    :param max_connections: connections each event loop (and the sync API of each process) keeps
        at most (default 64); a command finding all busy waits for one.
    :param pool_timeout: seconds a command waits for a free connection before it fails (default 10).
    :param socket_timeout: seconds a command waits for Redis's reply before it fails (default 10):
        a stalled Redis fails commands, it never hangs them. A ``?socket_timeout=`` or
        ``?max_connections=`` in the URL wins over these arguments.
    """

    def __init__(
        self,
        url: str | None = None,
        key_prefix: str = "flash:ss",
        buffer_size: int = DEFAULT_BUFFER,
        max_connections: int = POOL_SIZE,
        pool_timeout: float = POOL_TIMEOUT_S,
        socket_timeout: float = SOCKET_TIMEOUT_S,
    ) -> None:
        _redis()
        if buffer_size < 1:
            raise ValueError("buffer_size must be at least 1")
        if max_connections < 2:  # the shared reader holds one while it waits for rings
            raise ValueError("max_connections must be at least 2")
        if pool_timeout <= 0 or socket_timeout <= READER_BLOCK_MS / 1000:
            raise ValueError(
                f"pool_timeout must be positive and socket_timeout over {READER_BLOCK_MS / 1000:g} s "
                "(the shared reader's blocking read)"
            )
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self.socket_timeout = socket_timeout
        self.url = url or os.environ.get("REDIS_URL") or _DEFAULT_URL
        self.outage = OutageLog(f"Redis at {_where(self.url)}")  # this process's outages, logged once each
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
        return self.seq_key(stream_key[len(self.key("stream:")) :])

    # --- clients ------------------------------------------------------------------------
    def _client(self) -> tuple[Any, Any]:
        sync = self._sync
        if sync is None or sync[0] != os.getpid():  # none yet, or inherited through fork
            with self._guard:
                redis = _redis()
                pool = redis.BlockingConnectionPool.from_url(self.url, **pool_options(self, False))
                client = redis.Redis(connection_pool=pool)
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
            sync[1].connection_pool.disconnect()  # the client does not own a pool it was given

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
        return int(
            script(
                keys=[self.seq_key(topic), self.stream_key(topic), self.doorbell_key],
                args=[encode(message), self.buffer_size, DOORBELL_LEN, RING_PAYLOAD_MAX],
            )
        )

    async def apublish(self, topic: str, message: Any, ttl: float | None = None) -> int:
        check_topic_ttl(ttl)
        script = self.loop_state().publish
        return int(
            await script(
                keys=[self.seq_key(topic), self.stream_key(topic), self.doorbell_key],
                args=[encode(message), self.buffer_size, DOORBELL_LEN, RING_PAYLOAD_MAX],
            )
        )

    def _head(self, topic: str) -> int:
        return int(self._client()[0].get(self.seq_key(topic)) or 0)

    def poll(self, topic: str, after: int, timeout: float, limit: int) -> Batch:
        """Sync long-poll (sync iteration only; async subscriptions use the shared reader)."""
        if after > self._head(topic):
            return Batch([], True)
        timeout = min(timeout, self.socket_timeout / 2)  # a blocking read must end before its socket times out
        result = self._client()[0].xread({self.stream_key(topic): f"{after}-0"}, count=limit, block=max(1, int(timeout * 1000)))
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
