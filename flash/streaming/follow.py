"""The holder's side of the stream bus: follow a downlink's runs in Redis and forward them.

One `DownlinkFollower` per downlink response attached on this worker. It reads which runs the
downlink has (`_flash/dl/<id>`), follows each run's stream from the last id the page saw (the
resume request's list; 0 for a run it has not seen yet), and forwards every message through
`Downlink.deliver`, so a slow browser holds the follower back and the follower's acks hold the
generator back (`bus.WINDOW`). A run whose messages are no longer in Redis is `gone` (the page
starts it over); Redis failing cuts the response, so the page reconnects and resumes.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from ..storage.base import SharedStorageGap
from ..storage.codec import decode
from ..storage.redis_reader import seq_of
from .bus import ACK_EVERY, downlink_topic, run_topic
from .lane import close_lane, open_lane
from .sse import encode_run_event

if TYPE_CHECKING:
    from .bus import StreamBus
    from .downlink import Downlink
    from .runs import StreamRun

logger = logging.getLogger("flash.streaming")
_FINAL_PREFIXES = (b"event: done\n", b"event: error\n", b"event: gone\n")


class RunFollow:
    __slots__ = ("run_id", "forwarded", "worker", "restart", "task", "finished")

    def __init__(self, run_id: str, after: int, worker: str | None, restart: bool) -> None:
        self.run_id = run_id
        self.forwarded = after
        self.worker = worker
        self.restart = restart
        self.task: asyncio.Task[None] | None = None
        self.finished = False


class DownlinkFollower:
    def __init__(self, bus: "StreamBus", downlink: "Downlink", plan: dict[str, int]) -> None:
        self.bus = bus
        self.downlink = downlink
        # run id -> its follow: added by `_follow`, removed when the follow ends with its run
        # (done/error/gone forwarded, or `end_run`), so a page's long life does not grow it;
        # `stop()` cancels what is left when the response goes.
        self.follows: dict[str, RunFollow] = {}
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
        topic = downlink_topic(self.downlink.downlink_id)
        try:
            last = await self._read_history(topic)
            while True:
                try:
                    sub = await self.bus.storage.asubscribe(topic, replay_from=last)
                    async for seq, message in sub.aiter_with_seq():
                        last = seq
                        self._learn(message)
                except SharedStorageGap:  # trimmed while we read: carry on from the head
                    last = int(await self.bus.client().get(self.bus.storage.seq_key(topic)) or 0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # pylint: disable=broad-exception-caught  # Redis unreachable
            self._cut("shared storage failed", exc)

    async def _read_history(self, topic: str) -> int:
        entries = await self.bus.client().xrange(self.bus.storage.stream_key(topic))
        started: dict[str, dict[str, Any]] = {}
        ended: set[str] = set()
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
        follow = RunFollow(run_id, after, worker if isinstance(worker, str) else None,
                           bool(started.get("restart")))
        self.follows[run_id] = follow
        follow.task = asyncio.get_running_loop().create_task(self._forward(follow))

    async def _forward(self, follow: RunFollow) -> None:
        bus, downlink = self.bus, self.downlink
        try:
            run = bus.registry.live_run(follow.run_id)
            if run is not None and run.bus is bus and await self._forward_local(follow, run):
                return
            acked = follow.forwarded
            unacked_bytes = 0
            sub = await bus.storage.asubscribe(run_topic(follow.run_id), replay_from=follow.forwarded)
            async for seq, text in sub.aiter_with_seq():
                chunk = text.encode("utf-8")
                await downlink.deliver(chunk)
                follow.forwarded = seq
                if chunk.startswith(_FINAL_PREFIXES):
                    follow.finished = True
                    return
                unacked_bytes += len(chunk)
                if seq - acked >= ACK_EVERY or unacked_bytes >= bus.ack_bytes:
                    acked, unacked_bytes = seq, 0
                    await bus.ack(follow.run_id, seq)
        except asyncio.CancelledError:
            raise
        except SharedStorageGap:
            # What the page missed is no longer in Redis: it starts the run over.
            follow.finished = True
            downlink.push_now(encode_run_event("gone", follow.run_id, follow.forwarded, {}))
            try:
                await bus.broadcast_close([follow.run_id])
            except Exception:  # pylint: disable=broad-exception-caught
                pass
        except Exception as exc:  # pylint: disable=broad-exception-caught  # Redis unreachable, redis-py's errors
            self._cut("shared storage failed", exc)
        finally:
            # Its run ended on the page: no start message can name it again (each arrives once).
            if follow.finished and self.follows.get(follow.run_id) is follow:
                del self.follows[follow.run_id]

    async def _forward_local(self, follow: RunFollow, run: "StreamRun") -> bool:
        """The run is live on this worker: catch up from Redis, then take its lane (lane.py).
        False when the run ended without handing over its last message (read it from Redis)."""
        lane = open_lane(run)
        try:
            upto = run.seq  # later messages reach the lane; these may be still being written
            if follow.forwarded < upto and await self._catch_up(follow, upto):
                return True
            while True:
                batch = await lane.take()
                if not batch:
                    return False
                for seq, chunk in batch:
                    if seq <= follow.forwarded:
                        continue
                    if seq != follow.forwarded + 1:
                        return False  # cannot happen (writes land in order): Redis has the rest
                    await self.downlink.deliver(chunk)
                    follow.forwarded = seq
                    lane.ack(run, seq)
                    if chunk.startswith(_FINAL_PREFIXES):
                        follow.finished = True
                        return True
        finally:
            close_lane(run, lane)

    async def _catch_up(self, follow: RunFollow, upto: int) -> bool:
        """Forward messages `forwarded+1 .. upto` from the run's Redis stream; True if it ended."""
        await self.bus.drain()
        stream = self.bus.storage.stream_key(run_topic(follow.run_id))
        entries = await self.bus.client().xrange(stream, min=f"{follow.forwarded + 1}-0", max=f"{upto}-0")
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
