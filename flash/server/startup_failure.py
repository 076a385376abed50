"""A server that cannot start says why in one line, last, and exits non-zero.

When the app's startup fails (dash-auth left in, a Flask extension, an app's own
`before_serving` raising), Quart logs the traceback, the ASGI server raises its own error about
the failed lifespan *during* the handling of the first, and the process printed both: 55 lines
whose one useful line sat in the middle, then (under `hypercorn app:server`) exit status 0.

Quart's `got_serving_exception` signal sees the exception first, so Flash reports it there, once:
the traceback only when it helps (not for Flash's own advice, which is complete in one line),
then `Flash could not start: <what to do>` as the last line; Quart's copy of the traceback is
dropped (a logging filter on the server's logger). What happens next depends on who serves:

- `app.run()` (devserver.py) ends with exit status 3 (`STARTUP_FAILED`, gunicorn's and
  uvicorn's "could not boot" status) without printing Hypercorn's error;
- a `hypercorn app:server` worker process exits at once with status 3, so no second traceback
  follows. (Hypercorn 0.17-0.18's parent process then still exits 0: it overwrites a failed
  worker's status, pgjones/hypercorn#269; `hypercorn --workers 0 app:server` exits 3.)
- uvicorn prints "Application startup failed. Exiting." after the line and exits 3 itself.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Any

from quart import Quart
from quart.signals import got_serving_exception

from ..compat.hypercorn import exit_worker_at_once, worker_shutdown_event

STARTUP_FAILED = 3
_ADVICE = ("FlaskHookError", "WSGIServerError", "KeyFileError")  # complete in their message


def is_advice(exc: BaseException) -> bool:
    """Flash's own startup refusals: their message says what to do; a traceback adds nothing."""
    return any(cls.__name__ in _ADVICE and cls.__module__.startswith("flash.") for cls in type(exc).__mro__)


def already_reported(exc: BaseException) -> bool:
    """Whether `exc` (or the exception it was raised while handling) was reported here."""
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "_flash_reported", False):
            return True
        seen = seen.__context__
    return False


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if is_advice(exc):
        return f"Flash could not start: {text}"
    return f"Flash could not start: {type(exc).__name__}: {text} (traceback above)"


def report(exc: BaseException) -> None:
    """Print the traceback if it helps, then the one line, on stderr."""
    exc._flash_reported = True  # type: ignore[attr-defined]
    if not is_advice(exc):
        traceback.print_exception(exc, file=sys.stderr)
    print(one_line(exc), file=sys.stderr, flush=True)


def _hypercorn_cli() -> bool:
    """Whether this process is `hypercorn app:server`'s worker (or, with `--workers 0`, the CLI)."""
    if worker_shutdown_event() is not None:
        return True
    main = os.path.normpath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return os.path.basename(main) == "hypercorn" or main.endswith(os.path.join("hypercorn", "__main__.py"))


class _DropReported(logging.Filter):
    """Quart logs a failed startup's traceback after the signal: already reported, drop it."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return exc is None or not getattr(exc, "_flash_reported", False)


def install_startup_failure(server: Quart) -> None:
    """Report a failed startup of `server` as above (once per server)."""
    if getattr(server, "_flash_startup_failure", None) is not None:
        return

    async def on_failure(sender: Any, exception: BaseException, **_: Any) -> None:
        report(exception)
        if _hypercorn_cli():
            exit_worker_at_once(STARTUP_FAILED)  # now: no second traceback from the server

    server._flash_startup_failure = on_failure  # type: ignore[attr-defined]  # keeps the weak receiver
    got_serving_exception.connect(on_failure, sender=server)
    server.logger.addFilter(_DropReported())
