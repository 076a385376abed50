"""The holder's side of the stream bus: follow a downlink's runs in Redis and forward them.

One `DownlinkFollower` per downlink response attached on this worker. It reads which runs the
downlink has (`_flash/dl/<id>`), follows each run's stream from the last id the page saw (the
resume request's list; 0 for a run it has not seen yet), and forwards every message through
`Downlink.deliver`, so a slow browser holds the follower back and the follower's acks hold the
generator back (`bus.WINDOW`). A message is acknowledged only once the response has written it:
an ack lets the run's Redis copy be trimmed (`stream_replay_bytes`), so a page cut with messages
still queued here must find them in Redis when it resumes. A run whose messages are no longer in Redis is `gone` (the page
starts it over); Redis failing cuts the response, so the page reconnects and resumes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from ...server.sse import encode_run_event
from ...storage.base import SharedStorageGap, Subscription
from ...storage.codec import decode
from ...storage.redis_reader import RedisSubscription, seq_of
from .lane import close_lane, open_lane
from .runlog import LIVE_TTL_MS
from .topics import ACK_EVERY, downlink_topic, run_topic

if TYPE_CHECKING:
    from ..run.runs import StreamRun
    from ..wire.downlink import Downlink
    from .stream_bus import StreamBus

logger = logging.getLogger("flash.streaming")
_FINAL_PREFIXES = (b"event: done\n", b"event: error\n", b"event: gone\n")
_FINAL_JSON = (b'"event: done\\n', b'"event: error\\n', b'"event: gone\\n')  # as stored (JSON strings)


# KEYS: the runs' ack keys. ARGV: their TTL in ms, then each one's acknowledged id.
_ACK_MANY_LUA = """
for i, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[1])
end
return #KEYS
"""

AckFailed = Callable[[BaseException], None]
# An ack call starts at most this often (seconds). An ack only lets a run run on (it waits once
# `WINDOW` messages ahead, polling every 50 ms) and its Redis copy be trimmed: never a frame's
# delay, so acks wait for each other longer than messages do.
ACK_INTERVAL_S = 0.025


class AckLog:
    """The acknowledgements of every page followed on this worker, one script call per batch.

    Why: each follower used to write its own acks, a pipeline each `ACK_EVERY` messages; 500
    pages on a worker made that a Redis round trip every few milliseconds, each a socket write
    and a wake-up of redis-server, for a few bytes. Now acks due while a call is in flight, or
    within `ACK_INTERVAL_S` of the last one, wait for the next call, and a run's newer ack
    replaces its older one (an ack covers all before it), so one call carries every page's acks. `_due` is emptied by each call; a failed call
    tells each follower it carried (`failed`: the follower cuts its page, which resumes)."""

    def __init__(self, write: Callable[[dict[str, int]], Awaitable[Any]]) -> None:
        self._write = write
        self._due: dict[str, tuple[int, AckFailed]] = {}  # run id -> (id to acknowledge, on failure)
        self._flusher: asyncio.Task[None] | None = None
        self._flushed_at = float("-inf")  # (loop time) when the last call started

    def ack(self, run_id: str, seq: int, failed: AckFailed) -> None:
        self._due[run_id] = (seq, failed)
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    def stop(self) -> None:
        """Drop what is due (the bus stops: its followers are gone, a page resumes from what it
        saw) and end the writer task, so none outlives the bus on a loop going on without it."""
        self._due.clear()
        if self._flusher is not None:
            self._flusher.cancel()

    async def drain(self) -> None:
        """Wait until every ack given so far is written (or failed)."""
        while self._flusher is not None:
            await asyncio.wait([self._flusher])

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._due:
                pause = self._flushed_at + ACK_INTERVAL_S - loop.time()
                if pause > 0:
                    await asyncio.sleep(pause)
                self._flushed_at = loop.time()
                due, self._due = self._due, {}
                try:
                    await self._write({run_id: seq for run_id, (seq, _) in due.items()})
                except Exception as exc:  # Redis unreachable
                    for failed in {failed for _, failed in due.values()}:
                        failed(exc)
        finally:
            self._flusher = None


async def write_acks(bus: "StreamBus", due: dict[str, int]) -> None:
    """`AckLog`'s writer for the bus: one script call, however many runs, on the bus's ack
    connection (its own: `HeldConnection`, no pool checkout per call)."""
    state = bus.storage.loop_state()
    keys = [bus.ack_key(run_id) for run_id in due]
    await bus.ack_connection.on(state.client).evalsha(state.script(_ACK_MANY_LUA), keys, [LIVE_TTL_MS, *due.values()])


class RunFollow:
    __slots__ = ("run_id", "forwarded", "written", "written_bytes", "acked", "worker", "restart", "task", "finished")

    def __init__(self, run_id: str, after: int, worker: str | None, restart: bool) -> None:
        self.run_id = run_id
        self.forwarded = after  # last id handed to the response
        self.written = after  # last id the response wrote (what an ack may cover)
        self.written_bytes = 0  # written since the last ack
        self.acked = after  # last id acknowledged (or due to be, in `_due`)
        self.worker = worker
        self.restart = restart
        self.task: asyncio.Task[None] | None = None
        self.finished = False


class DownlinkFollower:
    """Its tasks have one owner: `_run`'s TaskGroup holds every run's `_forward` and the acker,
    so none outlives the follower. And they end on `stop()` whatever redis-py does with the
    cancellation (it has swallowed some, leaving a follower waiting forever on a subscription
    nobody publishes to): `stop()` also closes every open subscription and sets `_stopped`,
    which each loop checks after every await."""

    def __init__(self, bus: "StreamBus", downlink: "Downlink", plan: dict[str, int]) -> None:
        self.bus = bus
        self.downlink = downlink
        # run id -> its follow: added by `_follow`, removed when the follow ends with its run
        # (done/error/gone forwarded, or `end_run`), so a page's long life does not grow it;
        # `stop()` cancels what is left when the response goes.
        self.follows: dict[str, RunFollow] = {}
        # Open subscriptions: added when a loop opens one, removed in its `finally`; `stop()` closes them.
        self._subs: set[Subscription] = set()
        self._group: asyncio.TaskGroup | None = None
        self._plan = plan
        self.presence_at = time.monotonic()  # `bus.hold` set the downlink's presence just before
        self._stopped = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        self._stopped = True
        self._task.cancel()
        for follow in self.follows.values():
            if follow.task is not None:
                follow.task.cancel()
        for sub in list(self._subs):
            sub.close()

    def _check(self) -> None:
        """After an await: a stop whose cancellation was lost on the way still ends the task."""
        if self._stopped:
            raise asyncio.CancelledError()

    def unfinished(self) -> list[RunFollow]:
        return [follow for follow in self.follows.values() if not follow.finished]

    def end_run(self, follow: RunFollow, chunk: bytes) -> None:
        """End a run on the page without its runner (its worker died)."""
        if follow.finished:
            return
        follow.finished = True
        if self.follows.get(follow.run_id) is follow:
            del self.follows[follow.run_id]  # (its task's finally may never run: cancelled unstarted)
        if follow.task is not None:
            follow.task.cancel()
        self.downlink.push_now(chunk)

    def _cut(self, why: str, exc: BaseException | None = None) -> None:
        """`exc`: Redis failed; the storage's outage log says so once, not once per downlink."""
        if not self._stopped:
            if exc is None:
                logger.warning("Downlink cut: %s; the page reconnects and resumes", why)
            else:
                self.bus.storage.outage.failed(exc, "following downlinks (cut: their pages reconnect and resume)")
            self.downlink.cut()

    async def _run(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                await self._read_downlink()
        finally:
            self._group = None

    async def _read_downlink(self) -> None:
        topic = downlink_topic(self.downlink.downlink_id)
        try:
            last = await self._read_history(topic)
            while not self._stopped:
                try:
                    sub = await self.bus.storage.asubscribe(topic, replay_from=last)
                    self._subs.add(sub)
                    try:
                        self._check()
                        async for seq, message in sub.aiter_with_seq():
                            last = seq
                            self._learn(message)
                    finally:
                        self._subs.discard(sub)
                except SharedStorageGap:  # trimmed while we read: carry on from the head
                    last = int(await self.bus.client().get(self.bus.storage.seq_key(topic)) or 0)
                self._check()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis unreachable
            self._cut("shared storage failed", exc)

    async def _read_history(self, topic: str) -> int:
        entries = await self.bus.client().xrange(self.bus.storage.stream_key(topic))
        started: dict[str, dict[str, Any]] = {}
        ended: set[str] = set()
        self._check()
        last = 0
        for entry_id, fields in entries:
            last = seq_of(entry_id)
            message = decode(fields[b"m"])
            if not isinstance(message, dict):
                continue
            if "start" in message:
                started[str(message["start"])] = message
            elif "end" in message:
                ended.add(str(message["end"]))
        for run_id, after in self._plan.items():
            self._follow(run_id, after, started.get(run_id, {}))
        for run_id, message in started.items():
            if run_id not in ended and run_id not in self.follows:
                self._follow(run_id, 0, message)  # started while the page reconnected
        return last

    def _learn(self, message: Any) -> None:
        if isinstance(message, dict) and "start" in message:
            run_id = str(message["start"])
            if run_id not in self.follows:
                self._follow(run_id, 0, message)

    def _follow(self, run_id: str, after: int, started: dict[str, Any]) -> None:
        worker = started.get("worker")
        follow = RunFollow(run_id, after, worker if isinstance(worker, str) else None, bool(started.get("restart")))
        self.follows[run_id] = follow
        assert self._group is not None  # called from `_read_downlink`, inside the group
        follow.task = self._group.create_task(self._forward(follow))

    async def _forward(self, follow: RunFollow) -> None:
        bus, downlink = self.bus, self.downlink
        try:
            run = bus.registry.live_run(follow.run_id)
            if run is not None and run.bus is bus and await self._forward_local(follow, run):
                return
            self._check()
            sub = await bus.storage.asubscribe(run_topic(follow.run_id), replay_from=follow.forwarded)
            self._subs.add(sub)
            if isinstance(sub, RedisSubscription):
                sub.direct = functools.partial(self._take_now, follow)
            try:
                self._check()
                async for seq, text in sub.aiter_with_seq():
                    chunk = text.encode("utf-8")
                    if chunk.startswith(_FINAL_PREFIXES):
                        await downlink.deliver(chunk)
                        follow.forwarded = seq
                        follow.finished = True
                        return
                    await downlink.deliver(chunk, functools.partial(self._written, follow, seq, len(chunk)))
                    follow.forwarded = seq
                    self._check()
            finally:
                self._subs.discard(sub)
        except asyncio.CancelledError:
            raise
        except SharedStorageGap:
            # What the page missed is no longer in Redis: it starts the run over.
            follow.finished = True
            downlink.push_now(encode_run_event("gone", follow.run_id, follow.forwarded, {}))
            try:
                await bus.broadcast_close([follow.run_id])
            except Exception:
                pass
        except Exception as exc:  # Redis unreachable, redis-py's errors
            self._cut("shared storage failed", exc)
        finally:
            # Its run ended on the page: no start message can name it again (each arrives once).
            if follow.finished and self.follows.get(follow.run_id) is follow:
                del self.follows[follow.run_id]

    def _take_now(self, follow: RunFollow, seq: int, raw: bytes) -> bool:
        """The reader's turn has the next message of a run whose forwarding waits idle: put it in
        the response's queue now, as `Downlink.deliver` would without waiting, when that queue
        has room (no task wake-up per message). False leaves it to `_forward`: ends, a full
        queue (the runner then waits for the browser), no response, a stopped follower."""
        listener = self.downlink.listener
        if (
            self._stopped
            or listener is None
            or seq != follow.forwarded + 1
            or listener.over(self.bus.registry.buffer_bytes)
            or raw.startswith(_FINAL_JSON)
        ):
            return False
        chunk = decode(raw).encode("utf-8")
        listener.push(chunk, functools.partial(self._written, follow, seq, len(chunk)))
        follow.forwarded = seq
        return True

    # --- acknowledgements -------------------------------------------------------------------
    def _written(self, follow: RunFollow, seq: int, size: int) -> None:
        """The response wrote message `seq`: the page has it, so the runner may go on (and its
        Redis copy may be trimmed). Acked every `ACK_EVERY` messages or `ack_bytes` bytes, in the
        bus's next ack call (`AckLog`: one for all of this worker's pages)."""
        if seq <= follow.written or self._stopped:
            return
        follow.written, follow.written_bytes = seq, follow.written_bytes + size
        if seq - follow.acked >= ACK_EVERY or follow.written_bytes >= self.bus.ack_bytes:
            follow.acked, follow.written_bytes = seq, 0
            self.bus.acks.ack(follow.run_id, seq, self._ack_failed)

    def _ack_failed(self, exc: BaseException) -> None:
        self._cut("shared storage failed", exc)

    async def _forward_local(self, follow: RunFollow, run: "StreamRun") -> bool:
        """The run is live on this worker: catch up from Redis, then take its lane (lane.py).
        False when the run ended without handing over its last message (read it from Redis)."""
        lane = open_lane(run)
        try:
            upto = run.seq  # later messages reach the lane; these may be still being written
            if follow.forwarded < upto and await self._catch_up(follow, upto):
                return True
            while True:
                self._check()
                batch = await lane.take()
                if not batch:
                    return False
                for seq, chunk in batch:
                    if seq <= follow.forwarded:
                        continue
                    if seq != follow.forwarded + 1:
                        return False  # cannot happen (writes land in order): Redis has the rest
                    if chunk.startswith(_FINAL_PREFIXES):
                        await self.downlink.deliver(chunk)
                        follow.forwarded = seq
                        follow.finished = True
                        return True
                    # acknowledged (in memory) once written: only then may the runner go on
                    await self.downlink.deliver(chunk, functools.partial(lane.ack, run, seq))
                    follow.forwarded = seq
        finally:
            close_lane(run, lane)

    async def _catch_up(self, follow: RunFollow, upto: int) -> bool:
        """Forward messages `forwarded+1 .. upto` from the run's Redis stream; True if it ended."""
        await self.bus.drain()
        self._check()
        stream = self.bus.storage.stream_key(run_topic(follow.run_id))
        entries = await self.bus.client().xrange(stream, min=f"{follow.forwarded + 1}-0", max=f"{upto}-0")
        self._check()
        for entry_id, fields in entries:
            seq = seq_of(entry_id)
            if seq != follow.forwarded + 1:
                raise SharedStorageGap(f"message {follow.forwarded + 1} of run {follow.run_id} was trimmed")
            chunk = decode(fields[b"m"]).encode("utf-8")
            await self.downlink.deliver(chunk)
            follow.forwarded = seq
            if chunk.startswith(_FINAL_PREFIXES):
                follow.finished = True
                return True
        return False
