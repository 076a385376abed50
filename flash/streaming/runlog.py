"""Writing runs' messages to their Redis streams (the bus's replay log), a batch per call.

Why one script call per batch: a publish fanned out to a thousand streams queues a thousand
messages in one loop turn. Each is an `XADD`, a `SET` of the run's sequence counter and a
`PEXPIRE`; sent as a pipeline that was 3,000 commands for redis-py to build and 3,000 replies to
parse, most of a worker's CPU per message. `_APPEND_LUA` takes the whole batch as the arguments
of one `EVALSHA`: one command and one reply, and Redis does the same writes, in queue order
(so each run's messages land in order), atomically per batch.
"""
from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from ..storage.codec import encode
from ..storage.redis_reader import DOORBELL_LEN, RING_PAYLOAD_MAX

if TYPE_CHECKING:
    from .bus import StreamBus
    from .runs import StreamRun

FLUSH_BATCH = 512  # messages per script call
WINDOW = 128  # messages a run may be ahead of what its page's holder forwarded (bus.py waits)
LIVE_TTL_MS = 120_000  # a live run's keys; refreshed by its writes and by the bus's tick

# KEYS: the doorbell, then stream 1, counter 1, stream 2, counter 2, ... ARGV: the doorbell's
# length, the largest message that rides in its ring, then seq, message, ttl ms, oldest id to
# keep ("" keeps all) for each message. A message
# already there (the call was retried after its reply was lost) is skipped; any other error stops
# the batch and is returned to every waiter. A small message rings the doorbell carrying itself;
# a stream with larger ones rings once (readers read only rung streams: storage/redis_reader.py).
_APPEND_LUA = """
local rung = {}
for i = 1, (#KEYS - 1) / 2 do
  local stream, counter = KEYS[2 * i], KEYS[2 * i + 1]
  local seq, message, ttl, oldest = ARGV[4 * i - 1], ARGV[4 * i], ARGV[4 * i + 1], ARGV[4 * i + 2]
  local added
  if oldest == '' then
    added = redis.pcall('XADD', stream, seq .. '-0', 'm', message)
  else
    added = redis.pcall('XADD', stream, 'MINID', oldest .. '-0', seq .. '-0', 'm', message)
  end
  if type(added) == 'table' and added.err and not string.find(added.err, 'equal or smaller', 1, true) then
    return redis.error_reply(added.err)
  end
  redis.call('SET', counter, seq, 'PX', ttl)
  redis.call('PEXPIRE', stream, ttl)
  if #message <= tonumber(ARGV[2]) then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'k', stream, 's', seq, 'm', message)
  elseif not rung[stream] then
    rung[stream] = true
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'k', stream)
  end
end
return (#KEYS - 1) / 2
"""

Entry = tuple["StreamRun", int, bytes, bool]


def _consume(future: "asyncio.Future[None]") -> None:
    """Mark a failed write's error as seen: writers that were cancelled no longer await it."""
    if not future.cancelled():
        future.exception()


class RunLog:
    """The bus's write queue: one flusher task per process writes every run's queued messages.

    Every message queued while the flusher is busy shares one future (a thousand writers of one
    fan-out await one future, not a thousand): the flusher takes the whole queue, writes it in
    batches of `FLUSH_BATCH`, then resolves that future, or fails it with the first error."""

    def __init__(self, bus: "StreamBus") -> None:
        self.bus = bus
        self._queue: list[Entry] = []
        self._queued: asyncio.Future[None] | None = None  # resolved once `_queue` is written
        self._writing: asyncio.Future[None] | None = None  # what the flusher is writing now
        self._flusher: asyncio.Task[None] | None = None

    def write(self, run: "StreamRun", chunk: bytes, final: bool = False) -> "asyncio.Future[None]":
        """Queue `chunk` (message `run.seq`) for the run's Redis stream; resolved once written.
        Cancelling a wait for it does not cut the write: the flusher, not the caller, does it."""
        self._queue.append((run, run.seq, chunk, final))
        queued = self._queued
        if queued is None:
            loop = asyncio.get_running_loop()
            queued = self._queued = loop.create_future()
            queued.add_done_callback(_consume)
            if self._flusher is None:
                self._flusher = loop.create_task(self._flush())
        return queued

    async def drain(self) -> None:
        """Wait for every write queued so far (failed ones included)."""
        for future in (self._writing, self._queued):
            if future is not None:
                await asyncio.wait([future])

    async def _flush(self) -> None:
        try:
            while self._queue:
                entries, self._queue = self._queue, []
                writing, self._queued = self._queued, None
                assert writing is not None
                self._writing = writing
                try:
                    for start in range(0, len(entries), FLUSH_BATCH):
                        await self._write_batch(entries[start:start + FLUSH_BATCH])
                except Exception as exc:  # every waiter sees it
                    self.bus.storage.outage.failed(exc, "writing streams' messages")
                    if not writing.done():
                        writing.set_exception(exc)
                else:
                    self.bus.storage.outage.succeeded()
                    if not writing.done():
                        writing.set_result(None)
                finally:
                    self._writing = None
        finally:
            self._flusher = None

    async def _write_batch(self, batch: list[Entry]) -> None:
        bus = self.bus
        keys: list[str] = [bus.storage.doorbell_key]
        args: list[Any] = [DOORBELL_LEN, RING_PAYLOAD_MAX]
        now = time.monotonic()
        for run, seq, chunk, final in batch:
            keys += bus.run_keys(run.run_id)
            run.logged_at = now
            oldest = retain(run, seq, len(chunk))
            args += (seq, encode(chunk.decode("utf-8")), bus.ended_ttl_ms if final else LIVE_TTL_MS,
                     "" if oldest is None else oldest)
        await bus.storage.loop_state().script(_APPEND_LUA)(keys=keys, args=args)
        for run, _, _, final in batch:
            if final:  # after its last message: a holder adopting the downlink skips the run
                await bus.announce_end(run)


def retain(run: "StreamRun", seq: int, size: int) -> int | None:
    """Note message `seq` in the run's Redis stream; the oldest id to keep if older ones go."""
    sizes = run.bus_sizes
    sizes.append((seq, size))
    run.bus_bytes += size
    keep = max(WINDOW * 2, run.replay_size)
    trimmed = False
    while len(sizes) > 1 and (len(sizes) > keep
                              or (run.bus_bytes > run.replay_bytes and sizes[0][0] <= run.acked)):
        run.bus_bytes -= sizes.popleft()[1]
        trimmed = True
    return sizes[0][0] if trimmed else None
