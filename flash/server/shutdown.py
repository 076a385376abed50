"""Graceful shutdown: when a worker is told to stop, its streams end within `shutdown_grace`.

Neither server tells an open response that it is going away. On SIGTERM Uvicorn closes its
listeners and waits for every open connection (forever unless `timeout_graceful_shutdown` is
set), Hypercorn waits `graceful_timeout` (3 s) and then cancels them; both send the ASGI lifespan
shutdown only after that. A downlink never ends by itself, so Flash watches for the stop:

- SIGTERM/SIGINT, when a server in this process handles them (Uvicorn always, also under
  ``--reload``/``--workers``, whose supervisors SIGTERM each worker; Hypercorn with
  ``--workers 0``; ``app.run()``): Flash chains a handler in front of the server's at startup;
- a Hypercorn worker process (its CLI default, ``--workers N``, ``--reload``) gets no signal: its
  parent sets a multiprocessing event, which Flash polls (`_hypercorn_worker_event`);
- the lifespan shutdown itself, as the last resort (the streams' responses are gone by then).

Then new downlinks get a 503 and new starts a 409 (the page opens a downlink elsewhere), every
open downlink gets a final ``shutdown`` event and ends, every run is closed (its generator's
``finally`` runs in its pump task), and the lifespan shutdown waits up to `shutdown_grace`
seconds for them. The page starts its runs over on its next downlink (docs/streaming-protocol.md).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from typing import TYPE_CHECKING, Any

from ..compat.hypercorn import worker_shutdown_event
from .sse import encode_event

if TYPE_CHECKING:
    from quart import Quart

    from .host import ServerHost

logger = logging.getLogger("flash.shutdown")
DEFAULT_SHUTDOWN_GRACE = 5.0
SHUTDOWN_EVENT = encode_event("shutdown", {})
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def shutdown_grace(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
        raise ValueError("shutdown_grace must be a non-negative number of seconds.")
    return float(value)


def _hypercorn_worker_event() -> Any:
    """The event a Hypercorn parent sets to stop this worker process (no signal), or None: found
    through Hypercorn's process layout, a private name kept in flash/compat/hypercorn.py."""
    return worker_shutdown_event()


class GracefulShutdown:
    """Ends one app's streams when its worker stops (see the module docstring)."""

    def __init__(self, app: "ServerHost", grace: float) -> None:
        self.app = app
        self.grace = grace
        self.begun = False
        self._tasks: list[asyncio.Task[Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._chained: dict[int, tuple[Any, Any]] = {}  # signal -> (the server's handler, ours)
        # Polls Hypercorn's stop event; made by the lifespan startup, cancelled and awaited by
        # the lifespan shutdown (`_stopped`), which is its one owner.
        self._watcher: asyncio.Task[None] | None = None

    def install(self, server: "Quart") -> None:
        if self._serving not in server.before_serving_funcs:
            server.before_serving(self._serving)
            server.after_serving(self._stopped)

    async def _serving(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.begun = False
        self.app.stream_runs.closing = False  # served again in this process (tests)
        self._chain_signals()
        event = _hypercorn_worker_event()
        if event is not None and self._watcher is None:
            self._watcher = self._loop.create_task(self._watch(event))

    def _chain_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals reach the main thread only: whoever serves there stops this loop
        for sig in _SIGNALS:
            previous = signal.getsignal(sig)
            if not callable(previous) or sig in self._chained:
                continue  # SIG_DFL/SIG_IGN: nobody here handles it, leave it so

            def handler(signum: int, frame: Any, previous: Any = previous) -> None:
                loop = self._loop
                if loop is not None and not loop.is_closed():
                    loop.call_soon_threadsafe(self.begin, signal.Signals(signum).name)
                previous(signum, frame)

            signal.signal(sig, handler)
            self._chained[sig] = (previous, handler)

    def _restore_signals(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for sig, (previous, handler) in self._chained.items():
                if signal.getsignal(sig) is handler:
                    signal.signal(sig, previous)
        self._chained.clear()

    async def _watch(self, event: Any) -> None:
        while not event.is_set():
            await asyncio.sleep(0.1)
        self.begin("the server stopped this worker")

    def begin(self, reason: str) -> None:
        """Refuse new streams, send every open downlink its final event, close every run."""
        if self.begun:
            return
        self.begun = True
        registry = self.app.stream_runs
        downlinks = sum(1 for d in registry.downlinks.values() if d.listener is not None)
        self._tasks = registry.shut_down(SHUTDOWN_EVENT)
        if downlinks or self._tasks:
            logger.info("Shutting down (%s): ended %d downlink(s), closing %d stream run(s)", reason, downlinks, len(self._tasks))

    async def _stopped(self) -> None:
        """Lifespan shutdown: begin if nothing did, then wait up to `grace` for the runs' `finally`."""
        self.begin("lifespan shutdown")
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            await asyncio.wait([watcher])  # does not raise its CancelledError here
        self._restore_signals()
        # The runs closed by `begin`, and any registered since (a start cancelled mid-announce
        # gets its pump task after `begin`): each pump task ends its run (pump.py).
        runs = self.app.stream_runs.runs()
        for run in runs:
            if not run.closing:  # registered after `begin` (its start had passed the check)
                run.close()
        tasks = [*self._tasks, *(run.task for run in runs)]
        pending = {task for task in tasks if task is not None and not task.done()}
        self._tasks = []
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.grace)
            if late:
                logger.warning("%d stream run(s) still running after shutdown_grace=%g s", len(late), self.grace)
        bus = self.app.stream_runs.bus
        if bus is not None:  # the runs' last messages reach Redis before the storage closes
            await asyncio.wait_for(bus.drain(), timeout=max(self.grace, 1.0))
