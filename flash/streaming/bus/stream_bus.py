"""The stream bus: runs and downlinks on different workers, joined through Redis.

Why: behind a load balancer the request that starts a run, the one that cancels it and the
browser's downlink each land on any worker. With `RedisSharedStorage` every run writes its
numbered SSE messages to its own Redis stream (`_flash/run/<id>`, entry id = sequence id), and
the worker holding the browser's downlink follows those streams (`follow.py`), so a reconnect on
any worker resumes each run exactly after the last id the page saw. Writes go in batches, one
script call each (`runlog.py`); a run whose page is held by its own worker hands each message,
once written, straight to the holder's follower (`lane.py`) instead of through Redis and back. Small keys tie the pieces:

- `_flash/dl/<downlink>`: which runs a downlink has (`start`, with the runner's worker id) and
  which ended (`end`), so a worker adopting a downlink knows what to follow;
- `bus:dl:<downlink>` (presence): held by the worker serving its response, lapsing one resume
  window after the page left: runners close runs whose page is gone (tab closed);
- `bus:worker:<id>` (lease, 3 s): lapses when a worker dies, so the page's holder ends that
  worker's runs (`error`, or `gone` to restart them) instead of waiting forever;
- `bus:ack:<run>`: what the holder's response has written to the page (`follow.py`, one
  script call for all of a worker's pages: `AckLog`), so a generator waits for a slow browser
  (`WINDOW` messages, or `stream_replay_bytes` bytes, ahead) instead of outrunning the replay
  window. A run's Redis stream keeps its last `max(2 * WINDOW, stream_replay_size)` messages, and
  only as many of those the holder has acknowledged as fit in `stream_replay_bytes`: with the
  unacknowledged ones (at most that many bytes, plus the newest message), Redis holds at most about
  twice `stream_replay_bytes` per run, however large its messages;
- `_flash/control`: `close` requests, read by every worker, so a cancel works wherever it lands.

The data layout is shared storage's own (`stream_key`/`seq_key`), so `asubscribe` reads it.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from typing import TYPE_CHECKING, Any, Iterable

from ...server.limits import DEFAULT_STREAM_REPLAY_BYTES
from ...storage.base import SharedStorageError
from ...storage.redis_client import OwnConnection
from .follow import AckLog, DownlinkFollower, write_acks
from .liveness import LEASE_MS, TICK, Liveness
from .runlog import LIVE_TTL_MS, WINDOW, RunLog
from .topics import ACK_EVERY, CONTROL_TOPIC, downlink_topic, run_topic
from .unwritten import UnwrittenEnds

if TYPE_CHECKING:
    from ...storage.redis import RedisSharedStorage
    from ..run.runs import StreamRun
    from ..wire.downlink import Downlink, DownlinkRegistry


class StreamBusError(SharedStorageError):
    """A run could not write its next message to Redis."""


class StreamBus:
    """One per app and process; its tasks start on first use, on the serving loop."""

    def __init__(
        self,
        storage: "RedisSharedStorage",
        registry: "DownlinkRegistry",
        worker_id: str | None = None,
        replay_bytes: int = DEFAULT_STREAM_REPLAY_BYTES,
    ) -> None:
        self.storage = storage
        # A holder acks at least every this many forwarded bytes, so once it has caught up a
        # run sees well under `replay_bytes` unacknowledged and never waits on it for nothing.
        self.ack_bytes = max(1, replay_bytes // (2 * ACK_EVERY))
        self.registry = registry
        self.worker_id = worker_id or secrets.token_hex(6)
        self.followers: dict[str, DownlinkFollower] = {}  # downlink id -> follower (attached here)
        self._tasks: list[asyncio.Task[None]] = []  # set by `ensure_started`, emptied by `stop`
        self._starting: asyncio.Lock | None = None  # (made on the serving loop, on first use)
        self.log = RunLog(self)
        self.acks = AckLog(functools.partial(write_acks, self))  # the holder side's, for every page here
        self.ack_connection = OwnConnection()  # the ack calls' own (`write_acks`; closed by `stop`)
        # run id -> its last message's write, until it lands (a failed one: until the run ends)
        self._writing: dict[str, asyncio.Future[None]] = {}
        self.unwritten_ends = UnwrittenEnds(lambda: self.ended_ttl_ms / 1000)  # emptied by the tick
        self.liveness = Liveness(self)

    # --- keys ----------------------------------------------------------------------------
    def presence_key(self, downlink_id: str) -> str:
        return self.storage.key(f"bus:dl:{downlink_id}")

    def lease_key(self, worker_id: str) -> str:
        return self.storage.key(f"bus:worker:{worker_id}")

    def ack_key(self, run_id: str) -> str:
        return self.storage.key(f"bus:ack:{run_id}")

    def run_keys(self, run_id: str) -> tuple[str, str]:
        """The run's Redis stream and its sequence counter (shared storage's own layout)."""
        topic = run_topic(run_id)
        return self.storage.stream_key(topic), self.storage.seq_key(topic)

    def closed_key(self, run_id: str) -> str:
        return self.storage.key(f"bus:closed:{run_id}")

    @property
    def presence_ms(self) -> int:
        return int(self.registry.resume_window * 1000) + 2000

    @property
    def ended_ttl_ms(self) -> int:
        return max(10_000, int(self.registry.resume_window * 1000) + 5000)

    def client(self) -> Any:
        return self.storage.loop_state().client

    # --- life ----------------------------------------------------------------------------
    async def ensure_started(self) -> None:
        """Start the two background tasks once. The lock: concurrent first requests each awaited
        the lease SET and each created a pair, all but one unreferenced and running forever."""
        if self._tasks:
            return
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._tasks:  # another request started them while this one waited
                return
            await self.client().set(self.lease_key(self.worker_id), 1, px=LEASE_MS)
            self.storage.outage.succeeded()  # Redis answers (it may not have, when this worker started)
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self.liveness.tick_forever()), loop.create_task(self._follow_control())]

    async def stop(self) -> None:
        """Let pending writes land, then stop the background tasks and drop the lease."""
        await self.drain()
        tasks, self._tasks = self._tasks, []
        self._starting = None  # a later start may be on another loop
        for task in tasks:
            task.cancel()
        for follower in list(self.followers.values()):
            follower.stop()
        self.acks.stop()
        await self.log.connection.close()
        await self.ack_connection.close()
        if tasks:
            try:
                await self.client().delete(self.lease_key(self.worker_id))
            except Exception:  # Redis gone: it lapses
                pass

    async def drain(self) -> None:
        await self.log.drain()

    # --- runner side ---------------------------------------------------------------------
    async def announce_start(self, run: "StreamRun", restart: bool, worker: str | None = None) -> None:
        """`worker`: whose lease tells the page's holder the run is alive (a job's, jobs.py)."""
        await self.ensure_started()
        await self._publish_downlink(
            run.downlink.downlink_id, {"start": run.run_id, "worker": worker or self.worker_id, "restart": restart}
        )

    async def _publish_downlink(self, downlink_id: str, message: dict[str, Any]) -> None:
        topic = downlink_topic(downlink_id)
        await self.storage.apublish(topic, message)
        ttl = self.presence_ms + LIVE_TTL_MS
        async with self.client().pipeline(transaction=False) as pipe:
            pipe.pexpire(self.storage.stream_key(topic), ttl)
            pipe.pexpire(self.storage.seq_key(topic), ttl)
            await pipe.execute()

    def write(self, run: "StreamRun", chunk: bytes, final: bool = False) -> "asyncio.Future[None]":
        """Queue message `run.seq` for the run's Redis stream (`runlog.py`); resolved once written."""
        return self.log.write(run, chunk, final)

    async def announce_end(self, run: "StreamRun") -> None:
        await self._publish_downlink(run.downlink.downlink_id, {"end": run.run_id})

    async def publish(self, run: "StreamRun", chunk: bytes) -> None:
        """A run's next message, written behind its generator's back: the generator goes on at
        once (no wake-up per message) and waits only for its previous message's write, if still
        under way (one write per run in flight), or while the page's holder is `WINDOW` messages
        behind. A write that failed fails the run's next call (or its end: `finish`)."""
        try:
            last = self._writing.get(run.run_id)
            if last is not None:
                await asyncio.shield(last)  # shared by every writer: not cancelled
            written = self._writing[run.run_id] = self.write(run, chunk)
            written.add_done_callback(functools.partial(self._landed, run, run.seq, chunk))
            if run.seq - run.acked >= WINDOW or _unacked_over(run, run.replay_bytes):
                await self._wait_for_ack(run)
        except (asyncio.CancelledError, StreamBusError):
            raise
        except Exception as exc:  # redis-py's errors
            raise StreamBusError(f"shared storage unreachable ({exc})") from exc

    def _landed(self, run: "StreamRun", seq: int, chunk: bytes, written: "asyncio.Future[None]") -> None:
        """Message `seq` is in Redis: hand it to a holder here (lane.py). A failed write stays in
        `_writing` for the run's next call to raise."""
        if written.cancelled() or written.exception() is not None:
            return
        if self._writing.get(run.run_id) is written:
            del self._writing[run.run_id]
        if run.lane is not None:  # its page is held here: straight to the holder (lane.py)
            run.lane.push(seq, chunk)

    async def _wait_for_ack(self, run: "StreamRun") -> None:
        client = self.client()

        def ahead() -> bool:
            return run.seq - run.acked >= WINDOW // 2 or _unacked_over(run, run.replay_bytes // 2)

        while ahead():
            if run.lane is not None:  # the holder here acks in memory
                await run.lane.acked_or(0.05)
                continue
            run.acked = max(run.acked, int(await client.get(self.ack_key(run.run_id)) or 0))
            if ahead():
                await asyncio.sleep(0.05)

    async def finish(self, run: "StreamRun", chunk: bytes) -> None:
        """The run's final message (`done`, `error`, closed or `gone`), awaited even when the
        pump task is being cancelled: shutdown waits for the pump tasks, so it lands."""
        seq = run.seq
        self._writing.pop(run.run_id, None)  # this write lands after it (one queue, in order)
        try:
            await asyncio.shield(self.write(run, chunk, final=True))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.storage.outage.failed(exc, "writing the end of a stream")
            self.unwritten_ends.keep(run, chunk)
        if run.lane is not None:  # the page here learns the end even if Redis did not
            run.lane.push(seq, chunk)

    # --- holder side ---------------------------------------------------------------------
    async def hold(self, downlink_id: str) -> None:
        """This worker serves the downlink's response from now on (presence, awaited)."""
        await self.ensure_started()
        await self.client().set(self.presence_key(downlink_id), self.worker_id, px=self.presence_ms)

    async def is_held(self, downlink_id: str) -> bool:
        """Is the downlink alive somewhere (or within its resume window)?"""
        return bool(await self.client().exists(self.presence_key(downlink_id)))

    def attached(self, downlink: "Downlink") -> None:
        old = self.followers.pop(downlink.downlink_id, None)
        if old is not None:
            old.stop()
        plan, downlink.resume_plan = downlink.resume_plan, {}
        self.followers[downlink.downlink_id] = DownlinkFollower(self, downlink, plan)

    def detached(self, downlink: "Downlink") -> None:
        follower = self.followers.pop(downlink.downlink_id, None)
        if follower is not None:
            follower.stop()

    # --- control -------------------------------------------------------------------------
    async def broadcast_close(self, run_ids: Iterable[str]) -> None:
        """Every worker closes these runs if it runs them; a job not started yet finds the mark."""
        ids = list(run_ids)
        if ids:
            async with self.client().pipeline(transaction=False) as pipe:
                for run_id in ids:
                    pipe.set(self.closed_key(run_id), 1, px=LIVE_TTL_MS)
                await pipe.execute()
            await self.storage.apublish(CONTROL_TOPIC, {"close": ids})

    async def was_closed(self, run_id: str) -> bool:
        return bool(await self.client().exists(self.closed_key(run_id)))

    def close_local(self, run_ids: Iterable[str]) -> int:
        closed = 0
        for run_id in run_ids:
            run = self.registry.live_run(run_id)
            if run is not None:
                run.close()
                closed += 1
        return closed

    async def _follow_control(self) -> None:
        while True:
            try:
                sub = await self.storage.asubscribe(CONTROL_TOPIC)
                async for message in sub:
                    if isinstance(message, dict) and isinstance(message.get("close"), list):
                        self.close_local(str(run_id) for run_id in message["close"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: retry
                self.storage.outage.failed(exc, "following the stream control channel")
                await asyncio.sleep(TICK)


def _unacked_over(run: "StreamRun", limit: int) -> bool:
    """Do the run's messages its holder has not confirmed forwarding exceed `limit` bytes?"""
    if run.bus_bytes <= limit:  # they are part of what its stream holds: cannot
        return False
    total = 0
    for seq, size in reversed(run.bus_sizes):
        if seq <= run.acked:
            break
        total += size
        if total > limit:
            return True
    return False
