"""The async side of `RedisSharedStorage`'s subscriptions: one reader task per event loop.

Why a doorbell: a loop may follow thousands of topics (the stream bus follows one per run). One
blocking `XREAD` over all of them costs the whole key list (packing it, and Redis scanning it) on
every wake-up, so a busy worker spent its CPU re-sending the same keys. Instead every publish
also appends its stream's name to one short stream, the doorbell (in the same script, so a ring
is never seen before its message); a small message rides in its ring. The reader blocks on the
doorbell alone, hands each ring's message to the subscribers waiting for exactly that one, and
reads just the other rung streams it follows. A sweep over all of them, once a second and whenever the reader may
have missed a ring (it fell more than the doorbell's length behind), keeps a publisher that
does not ring (another version of Flash) at most a second late, and finds streams reset under
their subscribers (flushed, evicted), which would otherwise leave them waiting.

The sweep asks for heads only (`MGET` of the sequence counters, `SWEEP_CHUNK` streams per call,
one call per turn of the reader's loop between its doorbell reads) and reads just the streams
found behind: it used to `XREAD` every followed stream at once (a thousand arguments to pack
and a `MGET` of 500 heads each second for a worker following 500 runs, in one step of its loop
that every frame arriving meanwhile waited out), and at 5,000 streams that step grew tenfold.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

from .base import SharedStorageError, SharedStorageGap
from .codec import decode
from .redis_client import OwnConnection
from .subscription import BATCH_LIMIT, PollingSubscription

if TYPE_CHECKING:
    from .redis import RedisSharedStorage

READER_BLOCK_MS = 1000  # how long the doorbell read waits; a wake-up cuts it short
SWEEP_S = 1.0  # every followed stream is read at least this often, rung or not
DOORBELL_LEN = 20_000  # rings kept (approximately): a reader this far behind sweeps
RING_PAYLOAD_MAX = 512  # an encoded message up to this size rides in its ring (no second read)
# So the doorbell holds at most about DOORBELL_LEN x (RING_PAYLOAD_MAX + ~100) bytes: ~12 MB.
_BELL_COUNT = 5_000  # rings one read takes: a full read means the reader is behind
SWEEP_CHUNK = 256  # streams whose heads one sweep call asks for
# A doorbell read starts at most this often (seconds): rings that come meanwhile arrive in one
# reply. Why: each read costs the worker a round trip's CPU; on an idle loop every ring was one.
RING_INTERVAL_S = 0.004
_WAKE_TTL_MS = 60_000


def seq_of(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


def entries_of(items: list[Any]) -> list[tuple[int, bytes]]:
    return [(seq_of(entry_id), fields[b"m"]) for entry_id, fields in items]


def _text(key: bytes | str) -> str:
    return key.decode() if isinstance(key, bytes) else key


class Reader:
    """One task reading every subscribed stream of this loop, as the doorbell says."""

    def __init__(self, storage: "RedisSharedStorage", client: Any) -> None:
        self._storage = storage
        self._client = client
        self._subs: dict[str, set[RedisSubscription]] = {}
        self._wake_key = storage.key(f"wake:{secrets.token_hex(8)}")
        self._wake_id = "0-0"
        self._bell_id = ""  # read on start
        self._dirty: set[str] = set()  # streams to read now (rung, new, or drained)
        self._next_sweep = 0.0
        self._sweeping: list[str] = []  # streams the current sweep has yet to check
        self._rung_at = float("-inf")  # when the last doorbell read started
        # stream key -> its counter's key, encoded (redis-py packs bytes without a conversion):
        # added with a stream's first subscriber, removed with its last
        self._heads: dict[str, bytes] = {}
        self._task: asyncio.Task[None] | None = None
        self._bell = OwnConnection()  # the doorbell reads' own connection (made on the first read)

    async def add(self, sub: "RedisSubscription") -> None:
        self._subs.setdefault(sub.stream_key, set()).add(sub)
        if sub.stream_key not in self._heads:
            self._heads[sub.stream_key] = self._storage.seq_key_of_stream(sub.stream_key).encode()
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
        else:
            await self.poke(sub.stream_key)

    async def stop(self) -> None:
        """Stop the task (its subscribers get `SharedStorageError`), before the client closes:
        a read cut by the close would otherwise reconnect on a connection nobody closes."""
        task = self._task
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        await self._bell.close()

    async def poke(self, stream_key: str) -> None:
        """Read `stream_key` now: cut the doorbell read short."""
        self._dirty.add(stream_key)
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xadd(self._wake_key, {"w": 1}, maxlen=1, approximate=False)
            pipe.pexpire(self._wake_key, _WAKE_TTL_MS)
            await pipe.execute()

    def remove(self, sub: "RedisSubscription") -> None:
        subs = self._subs.get(sub.stream_key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.stream_key]
                self._heads.pop(sub.stream_key, None)

    def _starts(self, keys: Any) -> dict[str, int]:
        """Read each stream from the lowest position among subscribers with room for more."""
        starts: dict[str, int] = {}
        for key in keys:
            wanting = [sub.queued for sub in self._subs.get(key, ()) if sub.wants_more]
            if wanting:
                starts[key] = min(wanting)
        return starts

    async def _sweep(self, keys: list[str]) -> None:
        """Compare these streams' heads with what their subscribers have: read those behind (a
        ring missed), and check those ahead of their head (reset?) as a full read would."""
        keys = [key for key in keys if key in self._subs]
        if not keys:
            return
        heads = await self._client.mget([self._heads[key] for key in keys])
        reset: list[str] = []
        for key, raw in zip(keys, heads):
            head = int(raw or 0)
            for sub in self._subs.get(key, ()):
                if sub.queued > head:
                    reset.append(key)
                    break
                if sub.queued < head:
                    self._dirty.add(key)
        if reset:
            await self._read_streams(reset, sweep=True)

    async def _check_heads(self, starts: dict[str, int]) -> None:
        """A stream reset under its subscribers (flushed, evicted) would leave them waiting."""
        keys = list(starts)
        heads = await self._client.mget([self._storage.seq_key_of_stream(key) for key in keys])
        for key, raw in zip(keys, heads):
            if starts[key] > int(raw or 0):
                for sub in list(self._subs.get(key, ())):
                    sub.fail(sub.gap())

    async def _read_streams(self, keys: Any, sweep: bool) -> None:
        starts = self._starts(keys)
        if not starts:
            return
        result = await self._client.xread({key: f"{start}-0" for key, start in starts.items()}, count=BATCH_LIMIT)
        unread = dict(starts)
        for key, items in result or ():
            key = _text(key)
            unread.pop(key, None)
            if len(items) >= BATCH_LIMIT:
                self._dirty.add(key)  # more to read
            entries = entries_of(items)
            for sub in list(self._subs.get(key, ())):
                if sub.wants_more and sub.queued >= starts[key]:
                    sub.deliver(entries)
        if sweep and unread:
            await self._check_heads(unread)

    async def _wait_for_rings(self, block: bool = True) -> None:
        """One `XREAD` of the doorbell (and this reader's wake stream), on the reader's own
        connection (`HeldConnection`), its raw reply parsed here: each ring's fields are
        `k <stream> [s <seq> m <message>]`, in that order (`_PUBLISH_LUA`, the bus's writes)."""
        bell_key = self._storage.doorbell_key
        wait = ("BLOCK", READER_BLOCK_MS) if block else ()
        args = ("XREAD", "COUNT", _BELL_COUNT, *wait, "STREAMS", self._wake_key, bell_key, self._wake_id, self._bell_id)
        reply = await self._bell.on(self._client).call(*args)
        for key, items in reply.items() if isinstance(reply, dict) else reply or ():
            if _text(key) == self._wake_key:
                self._wake_id = items[-1][0]
                continue
            self._bell_id = items[-1][0]
            if len(items) >= _BELL_COUNT:
                self._next_sweep = 0.0  # behind: rings may have been trimmed away
            subs_of, dirty = self._subs, self._dirty
            for _, fields in items:
                if len(fields) == 6 and fields[4] == b"m":  # k <stream> s <seq> m <message>
                    rung, seq, message = _text(fields[1]), fields[3], fields[5]
                else:  # k <stream> alone (a large message: read its stream), or another layout
                    named = dict(zip(fields[::2], fields[1::2]))
                    rung, seq, message = _text(named.get(b"k", b"")), named.get(b"s"), named.get(b"m")
                subs = subs_of.get(rung)
                if subs is None:
                    continue
                if message is None or seq is None:
                    dirty.add(rung)
                    continue
                seq = int(seq)
                for sub in list(subs):  # the message itself, when it is the next one wanted
                    if sub.queued == seq - 1 and sub.wants_more:
                        sub.deliver([(seq, message)])
                    elif sub.queued < seq:
                        dirty.add(rung)  # it missed one, or is full: read the stream

    async def _run(self) -> None:
        error: BaseException | None = None
        try:
            last = await self._client.xrevrange(self._storage.doorbell_key, count=1)
            self._bell_id = last[0][0] if last else "0-0"  # the sweep below reads what came before
            outage = self._storage.outage
            outage.succeeded()
            while self._subs:
                if not self._sweeping and time.monotonic() >= self._next_sweep:
                    self._next_sweep = time.monotonic() + SWEEP_S
                    self._sweeping = list(self._subs)
                if self._sweeping:  # a chunk per turn: rings are read between chunks
                    chunk, self._sweeping = self._sweeping[:SWEEP_CHUNK], self._sweeping[SWEEP_CHUNK:]
                    await self._sweep(chunk)
                if self._dirty:
                    dirty, self._dirty = self._dirty, set()
                    await self._read_streams(dirty, sweep=False)
                if not self._dirty:
                    pause = self._rung_at + RING_INTERVAL_S - time.monotonic()
                    if pause > 0:
                        await asyncio.sleep(pause)
                    self._rung_at = time.monotonic()
                    await self._wait_for_rings(block=not self._sweeping)
                    outage.succeeded()
        except asyncio.CancelledError:
            error = SharedStorageError("the shared-storage reader was stopped")
            raise
        except Exception as exc:  # Redis unreachable
            self._storage.outage.failed(exc, "reading subscribed streams")
            error = SharedStorageError(f"reading from Redis failed: {exc}")
        finally:
            self._task = None
            if error is not None:
                for subs in list(self._subs.values()):
                    for sub in subs:
                        sub.fail(error)
                self._subs.clear()


class RedisSubscription(PollingSubscription):
    """Sync iteration long-polls with XREAD on the caller's thread; async iteration is fed by
    the loop's shared reader."""

    def __init__(self, storage: "RedisSharedStorage", topic: str, start: int) -> None:
        super().__init__(storage, topic, start, timeout=1.0)
        self.stream_key = storage.stream_key(topic)
        self.queued = start  # last sequence handed to the queue (the reader reads after it)
        self._storage = storage
        self._pending: list[tuple[int, bytes]] = []
        self._error: BaseException | None = None
        self._ready: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Set by a consumer that can take a message on the reader's turn (True: taken), which
        # is offered the messages arriving while its iteration waits with nothing queued: a
        # follower forwarding thousands of runs then wakes no task per message.
        self.direct: Callable[[int, bytes], bool] | None = None
        self._idle = False  # the iteration waits for messages

    @property
    def wants_more(self) -> bool:
        return self._error is None and len(self._pending) < BATCH_LIMIT

    def gap(self) -> SharedStorageGap:
        return self._gap()

    def deliver(self, entries: list[tuple[int, bytes]]) -> None:
        direct = self.direct if self._idle and not self.closed else None
        for seq, raw in entries:
            if seq <= self.queued:
                continue
            if seq != self.queued + 1:  # the one we need was trimmed away
                self.fail(self._gap())
                return
            if direct is not None and not self._pending and direct(seq, raw):
                self.queued = self._cursor = seq  # taken: nothing to wake the iterating task for
                continue
            self._pending.append((seq, raw))
            self.queued = seq
            if len(self._pending) >= BATCH_LIMIT:
                break
        if self._pending:
            self._wake()

    def fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        self._wake()

    def _wake(self) -> None:
        if self._ready is not None:
            self._ready.set()

    def close(self) -> None:
        super().close()
        if self._loop is not None and self._ready is not None:
            try:
                self._loop.call_soon_threadsafe(self._ready.set)
            except RuntimeError:
                pass

    async def aiter_with_seq(self) -> AsyncIterator[tuple[int, Any]]:
        self._loop, self._ready = asyncio.get_running_loop(), asyncio.Event()
        state = self._storage.loop_state()
        head = int(await state.client.get(self._storage.seq_key(self.topic)) or 0)
        if self._cursor > head:
            self.close()
            raise self._gap()
        await state.reader.add(self)
        try:
            while not self.closed:
                if self._pending:
                    was_full = not self.wants_more
                    batch, self._pending = self._pending, []
                    if was_full and self._error is None:
                        await state.reader.poke(self.stream_key)
                    for seq, raw in batch:
                        if self.closed:
                            return
                        self._cursor = seq
                        yield seq, decode(raw)
                    continue
                if self._error is not None:
                    raise self._error
                self._ready.clear()
                self._idle = True
                try:
                    await self._ready.wait()
                finally:
                    self._idle = False
        finally:
            state.reader.remove(self)
            self.close()
