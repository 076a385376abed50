"""The one private name Flash reaches for Hypercorn (0.17-0.18), with why; `NEEDED` lists it.

Hypercorn stops a worker process (its CLI default, ``--workers N``, ``--reload``) by setting a
multiprocessing event, with no signal, and tells no open response; Flash polls that event to end
its streams in time (`server/shutdown.py`). Hypercorn has no public way to reach it: it starts
each worker as ``multiprocessing.Process(target=<worker>, kwargs={"config": Config,
"shutdown_event": Event, "sockets": ...})``, and the process object keeps those in its private
`_kwargs`. `tests/unit/test_compat.py` runs Hypercorn's own process set-up and checks that this
still finds the event, so an upgrade that changes it fails there (and in production Flash falls
back to the lifespan shutdown). `pyproject.toml` pins Hypercorn below the next minor.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from typing import Any, NoReturn

from . import Private

NEEDED: tuple[Private, ...] = (
    Private(
        "multiprocessing.process:BaseProcess",
        "_kwargs",
        "a Hypercorn worker finds the shutdown event its parent sets to stop it",
        instance=True,
    ),
)


def shutdown_event_of(process: Any) -> Any:
    """The event Hypercorn's parent sets to stop `process`, or None if Hypercorn did not start it."""
    kwargs = getattr(process, "_kwargs", None)
    if not isinstance(kwargs, dict):
        return None
    try:
        from hypercorn.config import Config
    except ImportError:  # pragma: no cover - Hypercorn is a dependency
        return None
    event = kwargs.get("shutdown_event")
    if isinstance(kwargs.get("config"), Config) and callable(getattr(event, "is_set", None)):
        return event
    return None


def worker_shutdown_event() -> Any:
    """The stop event of this process when it is a Hypercorn worker; None in any other process."""
    return shutdown_event_of(multiprocessing.current_process())


def exit_worker_at_once(status: int) -> NoReturn:
    """End a Hypercorn worker whose app failed to start, now: left to Hypercorn, it prints the
    failure's traceback a second time (Flash already reported it in one line). `os._exit` is the
    standard library's documented immediate exit, not a private name."""
    sys.stderr.flush()
    os._exit(status)


__all__ = ["NEEDED", "exit_worker_at_once", "shutdown_event_of", "worker_shutdown_event"]
