"""One downlink per browser: the long-lived SSE response that carries every run it started.

Runs publish into their downlink; the open response (its `Listener`) writes what is queued in
one go. When the response goes away the downlink waits `resume_window` seconds for the browser
to reconnect (then replays each run from its last id) and otherwise closes every run it owns, so
no generator outlives its page whatever the moment of the disconnect. A response whose reader
stopped reading (one write waits `write_timeout` seconds) is cut the same way: see `Listener`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, AsyncGenerator, Callable

from ...server.sse import HEARTBEAT
from ..run.runs import StreamRun
from .listener import NO_CONTEXT, Listener, wake

if TYPE_CHECKING:  # stream_bus.py imports this module: the types only, never at runtime
    from ..bus.stream_bus import StreamBus
    from ..host import RunFigures

logger = logging.getLogger("flash.streaming")
# Loop turns a woken response waits while its queue keeps growing, so fast generators share
# one write (a server write costs far more than a loop turn; the page applies once per frame).
COALESCE_TURNS = 8
# ... but only on a busy response, one written to within this many seconds: the first message
# after a quiet spell (a paced frame, a tick every 0.5 s) is written at once. Waiting a turn for
# company that never comes cost a task step per frame: ~10% of a frame's CPU with one stream per
# browser (benchmarks/README.md, the 10,000-browser profile).
BUSY_WITHIN_S = 0.005


class Downlink:
    __slots__ = (
        "downlink_id",
        "token",
        "address",
        "runs",
        "live",
        "listener",
        "private",
        "resume_plan",
        "_registry",
        "_expiry",
        "_producers",
    )

    def __init__(self, downlink_id: str, token: str, registry: "DownlinkRegistry", address: str = "") -> None:
        self.downlink_id = downlink_id
        self.token = token
        self.address = address  # the client address that opened it (per-address limits)
        self.runs: dict[str, StreamRun] = {}
        self.live = 0  # unfinished runs (`runs` also keeps finished ones for the resume window)
        self.listener: Listener | None = None
        self.private = False  # opened by a start on a worker that does not hold the browser's downlink
        self.resume_plan: dict[str, int] = {}  # bus: run id -> last id the page saw, for the follower
        self._registry = registry
        self._producers: list[asyncio.Future[None]] = []
        self._expiry: asyncio.TimerHandle | None = None
        self._arm_expiry()  # until a response attaches, as after one detaches

    # --- producers (pump tasks) ---------------------------------------------------------
    async def deliver(self, chunk: bytes, on_written: Callable[[], None] | None = None) -> None:
        """`on_written`: called once `chunk` is written to the response (never, if it is not)."""
        if self.listener is None:
            # Disconnected: the run pauses here; a reconnect replays `chunk` from its buffer.
            while self.listener is None:
                await self._hold()
            return
        self.listener.push(chunk, on_written)
        if self.listener.over(self._registry.buffer_bytes):
            await self._hold()

    def push_now(self, chunk: bytes) -> None:
        if self.listener is not None:
            self.listener.push(chunk)

    async def _hold(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._producers.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._producers:
                self._producers.remove(waiter)

    def _release(self) -> None:
        producers, self._producers = self._producers, []
        for waiter in producers:
            wake(waiter)

    # --- the response -------------------------------------------------------------------
    async def listen(self, opening: Callable[[], bytes], heartbeat: float, listener: Listener) -> AsyncGenerator[bytes, None]:
        """Yield `opening()` (hello + replay), then live messages, until the response is cut.
        The replay is read the moment the listener attaches: from then on runs push to it."""
        metrics = self._registry.metrics  # flash.metrics' StreamMetrics, None when off
        if metrics is not None:
            listener.stamps = []  # before anything can push to it
        self._attach(listener)
        bus = self._registry.bus
        if bus is not None:
            bus.attached(self)  # its follower forwards the runs from Redis, after `opening()`
        loop = asyncio.get_running_loop()
        listener.task = asyncio.current_task()
        listener.start_heartbeat(loop, heartbeat, self._registry.write_timeout)
        try:
            listener.writing = True  # each yield returns once the server's send has taken it
            yield (first := opening())
            listener.writing = False
            if metrics is not None:
                metrics.wrote(None, None, len(first))
            while True:
                if not listener.pending and not listener.cut and not listener.beat:
                    listener.waiter = loop.create_future()
                    try:
                        await listener.waiter
                    finally:
                        listener.waiter = None
                listener.beat = False
                quiet_since, listener.last_write = listener.last_write, loop.time()
                if not listener.pending:
                    if listener.cut:
                        return
                    listener.writing = True
                    yield HEARTBEAT
                    listener.writing = False
                    if metrics is not None:
                        metrics.wrote(None, None, len(HEARTBEAT))
                    continue
                for _ in range(COALESCE_TURNS if listener.last_write - quiet_since < BUSY_WITHIN_S else 0):
                    queued = len(listener.pending)
                    if listener.cut or listener.over(self._registry.buffer_bytes):
                        break
                    await asyncio.sleep(0)
                    if len(listener.pending) == queued:
                        break
                batch = listener.take()
                self._release()
                listener.writing = True
                yield (chunk := b"".join(batch))
                listener.writing = False
                if metrics is not None:
                    metrics.wrote(listener.stamps, batch, len(chunk))
                listener.written()
                if listener.cut:
                    return
        finally:
            if metrics is not None and listener.stalled:
                metrics.stalled += 1
            listener.writing = False
            listener.stop_heartbeat()
            self.detach(listener)
            listener.task = listener.downlink = None  # no cycle through the task's frame

    def _attach(self, listener: Listener) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self.listener is not None:
            self.listener.cut_now()  # one response per downlink: a newer one takes over
        self.listener = listener
        listener.downlink = self
        self._release()

    def detach(self, listener: Listener) -> None:
        if self.listener is not listener:
            return
        self.listener = None
        self._release()
        if self._registry.bus is not None:
            self._registry.bus.detached(self)
        if self.private:
            self.expire()  # nobody resumes a private line: its tab starts those runs over
        else:
            self._arm_expiry()

    def _arm_expiry(self) -> None:
        if self._expiry is None:
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_later(self._registry.resume_window, self.expire, context=NO_CONTEXT)

    def expire(self) -> None:
        """The browser did not come back: close every run and forget this downlink."""
        self._expiry = None
        if self.listener is not None:
            return
        if self._registry.bus is not None:
            # The page may be back on another worker: runs end when its presence lapses (bus).
            if self.live:
                self._arm_expiry()
                return
            self._registry.forget(self)
            return
        for run in list(self.runs.values()):
            run.close()
        self._registry.forget(self)

    def cut(self) -> None:
        if self.listener is not None:
            self.listener.cut_now()


class DownlinkRegistry:
    """This worker's downlinks and their runs; `len()` is the number of live (unfinished) runs.
    `downlinks` and `by_address` gain an entry in `open()` and lose it in `forget()` (a downlink
    expires after its resume window, or at once for a private line)."""

    def __init__(self, resume_window: float, write_timeout: float = float("inf"), buffer_bytes: int = 65_536) -> None:
        self.resume_window = resume_window
        self.write_timeout = write_timeout  # see Listener
        self.buffer_bytes = buffer_bytes  # queued bytes before a downlink's producers wait
        self.downlinks: dict[str, Downlink] = {}
        self.by_address: dict[str, set[Downlink]] = {}  # client address -> the downlinks it opened
        self.start_bytes = 0  # start bodies the live runs hold (see endpoint.StartCharge)
        self._live: dict[str, StreamRun] = {}
        self.closing = False  # the worker is shutting down: no new downlinks or runs
        self.bus: StreamBus | None = None  # when shared storage is Redis (see stream_bus.py)
        self.metrics: RunFigures | None = None  # a `flash.metrics.StreamMetrics` when metrics are on

    def __len__(self) -> int:
        return len(self._live)

    def open(self, downlink_id: str, token: str, address: str = "") -> Downlink:
        downlink = Downlink(downlink_id, token, self, address)
        self.downlinks[downlink_id] = downlink
        self.by_address.setdefault(address, set()).add(downlink)
        return downlink

    def live_of(self, address: str) -> int:
        """Live runs on the downlinks `address` opened (one sum per start: a browser has few)."""
        return sum(downlink.live for downlink in self.by_address.get(address, ()))

    def downlinks_of(self, address: str) -> int:
        return len(self.by_address.get(address, ()))

    def get(self, downlink_id: str) -> Downlink | None:
        return self.downlinks.get(downlink_id)

    def forget(self, downlink: Downlink) -> None:
        if self.downlinks.get(downlink.downlink_id) is downlink:
            del self.downlinks[downlink.downlink_id]
        mine = self.by_address.get(downlink.address)
        if mine is not None:
            mine.discard(downlink)
            if not mine:
                del self.by_address[downlink.address]

    def add_run(self, run: StreamRun) -> None:
        """Register a starting run. What removes it: `run_finished`, which its pump task's one
        try/finally calls however the run ends (every run registered gets that task, see
        `endpoint.start_run`), or `drop_run` if its start fails before that task exists."""
        run.downlink.runs[run.run_id] = run
        run.downlink.live += 1
        self._live[run.run_id] = run

    def drop_run(self, run: StreamRun) -> None:
        """Undo `add_run` for a run that could not start (its start was not announced)."""
        if run.downlink.runs.pop(run.run_id, None) is run:
            run.downlink.live -= 1
        self._live.pop(run.run_id, None)

    def run_finished(self, run: StreamRun) -> None:
        """Keep a finished run's tail for the resume window, then let it go."""
        if not run.finished:
            run.downlink.live -= 1
        run.finished = True
        self._live.pop(run.run_id, None)
        if run.lane is not None:
            run.lane.end()
        loop = asyncio.get_running_loop()
        loop.call_later(self.resume_window, self._drop_finished, run, context=NO_CONTEXT)

    @staticmethod
    def _drop_finished(run: StreamRun) -> None:
        if run.downlink.runs.get(run.run_id) is run:
            del run.downlink.runs[run.run_id]

    def runs(self) -> list[StreamRun]:
        return list(self._live.values())

    def live_run(self, run_id: str) -> StreamRun | None:
        return self._live.get(run_id)

    def shut_down(self, final: bytes) -> list["asyncio.Task[Any]"]:
        """The worker is going away: each open response gets `final` and ends, every live run is
        closed (its generator's `finally` runs in its pump task); returns those tasks to await."""
        self.closing = True
        for downlink in list(self.downlinks.values()):
            if downlink.listener is not None:
                if self.bus is None:  # with the bus the page resumes on another worker instead
                    downlink.listener.push(final)  # before the runs' own `done`: the page reads it first
                downlink.cut()
        live = list(self._live.values())
        for run in live:
            run.close()
        return [run.task for run in live if run.task is not None]
