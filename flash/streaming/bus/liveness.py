"""The stream bus's liveness tick: leases, presence, key TTLs, and what ends when a page or a
worker is gone.

Once a second each worker refreshes its lease and the presence of the pages it holds, keeps its
live runs' Redis keys from expiring, retries the run ends Redis refused, closes runs whose page no
worker holds any more, and ends the runs it follows whose worker's lease lapsed (a worker that died
mid-stream). Split from stream_bus.py, which owns the bus's writes and control.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from ...server.sse import encode_run_event
from .runlog import LIVE_TTL_MS
from .topics import downlink_topic, run_topic

if TYPE_CHECKING:
    from ..run.runs import StreamRun
    from .stream_bus import StreamBus

TICK = 1.0  # seconds between lease/presence refreshes and liveness checks
LEASE_MS = 3000  # a worker that missed ~3 ticks is dead
REFRESH_TICKS = 20
WORKER_LOST = "The server running this stream stopped."

# KEYS: keys to set. ARGV: their value, their TTL in ms.
_SET_MANY_LUA = """
for _, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
end
return #KEYS
"""


class Liveness:
    """The bus's once-a-second tick (started by `StreamBus.ensure_started`, stopped with it)."""

    def __init__(self, bus: "StreamBus") -> None:
        self.bus = bus
        self.ticks = 0
        self.present_at: dict[str, float] = {}  # downlink id -> when its presence was last seen; rebuilt each tick

    def lost_here(self, run_id: str) -> bool:
        bus = self.bus
        run = bus.registry.live_run(run_id)
        return run is None and run_id not in bus.unwritten_ends

    async def tick_forever(self) -> None:
        """Also what tells the outage log, once a second, whether Redis answers again."""
        bus = self.bus
        while True:
            await asyncio.sleep(TICK)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                bus.storage.outage.failed(exc, "refreshing the stream bus's leases")
            else:
                bus.storage.outage.succeeded()

    async def tick(self) -> None:
        bus = self.bus
        self.ticks += 1
        client = bus.client()
        # Each held downlink's presence is refreshed about three times per lapse, not every
        # tick: a thousand pages held here cost a few hundred SETs a second, not a thousand.
        now = time.monotonic()
        due = now - max(TICK, bus.presence_ms / 3000)
        held = [
            follower
            for follower in bus.followers.values()
            if follower.downlink.listener is not None and follower.presence_at <= due
        ]
        live = [run for run in bus.registry.runs() if run.bus is not None]
        if held:  # one script call, however many (a pipeline of SETs cost ~30 us of CPU each)
            await bus.storage.loop_state().script(_SET_MANY_LUA)(
                keys=[bus.presence_key(follower.downlink.downlink_id) for follower in held],
                args=[bus.worker_id, bus.presence_ms],
            )
            for follower in held:
                follower.presence_at = now
        async with client.pipeline(transaction=False) as pipe:
            pipe.set(bus.lease_key(bus.worker_id), 1, px=LEASE_MS)
            if self.ticks % REFRESH_TICKS == 0:
                quiet = now - LIVE_TTL_MS / 4000  # a run written since renewed its keys' TTL then
                for run in live:
                    if run.logged_at > quiet:
                        continue
                    topic = run_topic(run.run_id)
                    pipe.pexpire(bus.storage.stream_key(topic), LIVE_TTL_MS)
                    pipe.pexpire(bus.storage.seq_key(topic), LIVE_TTL_MS)
                for dl_id in {run.downlink.downlink_id for run in live}:
                    topic = downlink_topic(dl_id)
                    pipe.pexpire(bus.storage.stream_key(topic), bus.presence_ms + LIVE_TTL_MS)
                    pipe.pexpire(bus.storage.seq_key(topic), bus.presence_ms + LIVE_TTL_MS)
            await pipe.execute()
        if bus.unwritten_ends:
            await bus.unwritten_ends.write_due(lambda run, chunk: bus.write(run, chunk, final=True))
        await self.close_orphans(client, live)
        await self.end_lost_runs(client)

    async def close_orphans(self, client: Any, live: list["StreamRun"]) -> None:
        """Runs whose page is gone (no worker holds its downlink any more): close them."""
        bus = self.bus
        now = time.monotonic()
        # A downlink whose response is open here is present: only the others are asked about,
        # each about three times per presence lapse (a page found here is not asked again soon).
        ripe = [run for run in live if now - run.started_at > 2 * TICK and run.downlink.listener is None]
        recently = now - max(TICK, bus.presence_ms / 3000)
        seen, self.present_at = self.present_at, {}
        for run in ripe:
            dl_id = run.downlink.downlink_id
            if seen.get(dl_id, 0.0) > recently:
                self.present_at[dl_id] = seen[dl_id]
        downlinks = sorted({run.downlink.downlink_id for run in ripe} - self.present_at.keys())
        if not downlinks:
            return
        present = await client.mget([bus.presence_key(dl_id) for dl_id in downlinks])
        gone = {dl_id for dl_id, value in zip(downlinks, present) if value is None}
        self.present_at.update((dl_id, now) for dl_id in downlinks if dl_id not in gone)
        for run in ripe:
            if run.downlink.downlink_id in gone:
                run.close()

    async def end_lost_runs(self, client: Any) -> None:
        """Runs followed here whose worker's lease lapsed (that worker died mid-stream), and runs
        of this worker that are no longer live here with no end on the way (the end Redis refused
        was given up on)."""
        bus = self.bus
        mine = bus.worker_id  # alive: its runs are checked in its own registry, not by lease
        workers = sorted(
            {
                follow.worker
                for follower in bus.followers.values()
                for follow in follower.follows.values()
                if not follow.finished and follow.worker and follow.worker != mine
            }
        )
        dead: set[str] = set()
        if workers:
            leases = await client.mget([bus.lease_key(worker) for worker in workers])
            dead = {worker for worker, lease in zip(workers, leases) if lease is None}
        orphaned = [
            (follower, follow)
            for follower in list(bus.followers.values())
            for follow in follower.unfinished()
            if follow.worker in dead or (follow.worker == mine and self.lost_here(follow.run_id))
        ]
        if not orphaned:
            return
        # A worker that stopped cleanly wrote its runs' last messages before dropping its lease:
        # forward those first; only a run with nothing left to read lost its worker.
        heads = await client.mget([bus.storage.seq_key(run_topic(follow.run_id)) for _, follow in orphaned])
        for (follower, follow), head in zip(orphaned, heads):
            if int(head or 0) <= follow.forwarded:
                event = "gone" if follow.restart else "error"
                data = {} if follow.restart else {"message": WORKER_LOST, "handled": False}
                follower.end_run(follow, encode_run_event(event, follow.run_id, follow.forwarded + 1, data))
