"""Writing runs' messages to their Redis streams (the bus's replay log), a batch per call.

Why one script call per batch: a publish fanned out to a thousand streams queues a thousand
messages in one loop turn. Each is an `XADD`, a `SET` of the run's sequence counter and a
`PEXPIRE`; sent as a pipeline that was 3,000 commands for redis-py to build and 3,000 replies to
parse, most of a worker's CPU per message. `_APPEND_LUA` takes the whole batch as one argument
of one `EVALSHA`: one command and one reply, and Redis does the same writes, in queue order
(so each run's messages land in order), atomically per batch. Everything queued while a call
is in flight goes in the next one (`RunLog`): the busier the worker, the bigger the batches.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from ...storage.codec import encode
from ...storage.redis_client import OwnConnection
from ...storage.redis_reader import DOORBELL_LEN, RING_PAYLOAD_MAX

if TYPE_CHECKING:
    from ..run.runs import StreamRun
    from .stream_bus import StreamBus

FLUSH_BATCH = 512  # messages per script call
# A script call starts at most this often (seconds): what is queued meanwhile goes in one call.
# Why: a call costs the worker about as much CPU as a frame does in memory (the socket write,
# redis-py's command, the reply); an idle loop sent one per frame. The first write after a
# quiet spell goes at once; under load a message waits at most this long for its batch.
FLUSH_INTERVAL_S = 0.004
WINDOW = 128  # messages a run may be ahead of what its page's holder forwarded (stream_bus.py waits)
LIVE_TTL_MS = 120_000  # a live run's keys; refreshed by its writes and by the bus's tick

# KEYS: the doorbell. ARGV: the doorbell's length, the largest message that rides in its ring,
# the prefixes of a run's stream and counter keys (+ run id = the key), and the batch, one
# argument: for each message `<run id length> <seq> <ttl ms> <oldest id to keep, or nothing>
# <message length> <run id><message>`. Why not a key and four arguments per message, as before:
# redis-py packs each argument in Python (8-14 us of worker CPU per message here, more than the
# rest of its write); this is one `b"".join`. (The runs' keys are named by the script, not
# declared: the bus's multi-run scripts could not run on a Redis Cluster anyway.)
# A message already there (the call was retried after its reply was lost) is skipped; any other
# error stops the batch and is returned to every waiter. A small message rings the doorbell
# carrying itself; a stream with larger ones rings once (readers read only rung streams:
# storage/redis_reader.py).
_APPEND_LUA = """
local rung = {}
local batch, pos, count = ARGV[5], 1, 0
while pos <= #batch do
  local idlen, seq, ttl, oldest, size, at = string.match(batch, '^(%d+) (%d+) (%d+) (%d*) (%d+) ()', pos)
  if not at then
    return redis.error_reply('ERR malformed batch at ' .. pos)
  end
  local run = string.sub(batch, at, at + idlen - 1)
  local message = string.sub(batch, at + idlen, at + idlen + size - 1)
  pos = at + idlen + size
  count = count + 1
  local stream, counter = ARGV[3] .. run, ARGV[4] .. run
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
return count
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
        self._flushed_at = float("-inf")  # (loop time) when the last batch was taken
        # The script calls' own connection (storage/redis_client.py: `HeldConnection`), on the
        # loop's client it was made from; closed by `close` (the bus stops) or with that client.
        self.connection = OwnConnection()

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
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                pause = self._flushed_at + FLUSH_INTERVAL_S - loop.time()
                if pause > 0:  # one call per interval: this one takes what comes meanwhile
                    await asyncio.sleep(pause)
                self._flushed_at = loop.time()
                entries, self._queue = self._queue, []
                writing, self._queued = self._queued, None
                assert writing is not None
                self._writing = writing
                try:
                    for start in range(0, len(entries), FLUSH_BATCH):
                        await self._write_batch(entries[start : start + FLUSH_BATCH])
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
        stream_prefix, counter_prefix = bus.run_keys("")  # + run id: the run's keys
        live, ended = LIVE_TTL_MS, bus.ended_ttl_ms
        now = time.monotonic()
        parts: list[bytes] = []
        for run, seq, chunk, final in batch:
            run.logged_at = now
            oldest = retain(run, seq, len(chunk))
            run_id, message = run.run_id.encode(), encode(chunk.decode("utf-8"))
            parts += (
                b"%d %d %d %s %d "
                % (len(run_id), seq, ended if final else live, b"" if oldest is None else b"%d" % oldest, len(message)),
                run_id,
                message,
            )
        keys = [bus.storage.doorbell_key]
        args = [DOORBELL_LEN, RING_PAYLOAD_MAX, stream_prefix, counter_prefix, b"".join(parts)]
        state = bus.storage.loop_state()
        await self.connection.on(state.client).evalsha(state.script(_APPEND_LUA), keys, args)
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
    while len(sizes) > 1 and (len(sizes) > keep or (run.bus_bytes > run.replay_bytes and sizes[0][0] <= run.acked)):
        run.bus_bytes -= sizes.popleft()[1]
        trimmed = True
    return sizes[0][0] if trimmed else None
