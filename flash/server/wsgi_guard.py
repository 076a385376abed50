"""Refuse to start under a WSGI server, naming the command that works.

`app.server` is a Quart (ASGI) app. Flask-Dash apps are often deployed with `gunicorn app:server`,
whose default `sync` worker (like `gthread`, `gevent`, `tornado`) calls the app as WSGI,
`app(environ, start_response)`: every request would then fail with Quart's "missing 'send'"
TypeError. A WSGI call cannot be answered from Quart's `async def __call__` (ASGI servers tell
ASGI 3 apps by that coroutine signature), so the check runs where it can: when the app is built,
which gunicorn does while it boots a worker (or the master, with `--preload`). The log says, once,
what to run instead (the user's own command with an ASGI worker, and `uvicorn`/`hypercorn` with the
user's own module), then the worker exits with gunicorn's boot-error status 3 (no traceback
repeating it) and gunicorn stops with "Worker failed to boot". Under gunicorn's own asgi worker
before gunicorn 26 (where Flash's several-worker tests fail) it starts, after a warning saying what
to run instead. tests/integration/test_printed_advice.py runs every command the WSGI message
suggests on the installed gunicorn.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import shlex
import sys
from types import FrameType
from typing import Any

LOGGER = logging.getLogger("flash.server")

# Gunicorn's ASGI worker (gunicorn >= 24) and the Uvicorn worker for older gunicorns.
ASGI_WORKER = "asgi"
UVICORN_WORKER = "uvicorn_worker.UvicornWorker"
_WORKER_FLAGS = ("-k", "--worker-class")


ASGI_WORKER_SINCE = (26,)  # the first gunicorn whose asgi worker passes Flash's tests
WORKER_BOOT_ERROR = 3  # gunicorn's exit status for a worker that could not boot


class WSGIServerError(SystemExit):
    """A Flash app was loaded by a server that would call it as WSGI: exit with status 3 (a
    SystemExit, so gunicorn stops without printing a traceback that repeats the advice)."""

    def __init__(self, message: str) -> None:
        super().__init__(WORKER_BOOT_ERROR)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _gunicorn_loader(frame: FrameType | None) -> Any:
    """The gunicorn worker or application loading this app, if any: gunicorn imports the app
    module from `Worker.load_wsgi` / `Application.wsgi`, whose `self` (with its `cfg`) it is."""
    while frame is not None:
        owner = frame.f_locals.get("self")
        if owner is not None and type(owner).__module__.startswith("gunicorn."):
            cfg = getattr(owner, "cfg", None)
            if cfg is not None and hasattr(cfg, "worker_class_str"):
                return owner
        frame = frame.f_back
    return None


def _app_uri(loader: Any) -> str:
    """The `module:variable` gunicorn was given (a worker's `app` is the gunicorn application)."""
    application = getattr(loader, "app", loader)
    uri = getattr(application, "app_uri", None) or getattr(loader, "app_uri", None)
    return uri if isinstance(uri, str) and uri else "app:server"


def _supported_workers() -> dict[str, str]:
    """gunicorn's built-in worker classes by name (only called once gunicorn is imported)."""
    workers: dict[str, str] = importlib.import_module("gunicorn.workers").SUPPORTED_WORKERS
    return workers


def _wsgi_workers() -> set[str]:
    """Dotted names of gunicorn's own WSGI worker classes (every built-in one but `asgi`)."""
    return {path for name, path in _supported_workers().items() if name != ASGI_WORKER}


def _class_paths(worker_class: Any) -> set[str]:
    """Dotted names of a worker class and its bases (a subclass of a built-in worker is one)."""
    return {f"{cls.__module__}.{cls.__qualname__}" for cls in getattr(worker_class, "__mro__", ())}


def _is_wsgi_worker(worker_class: Any) -> bool:
    return bool(_class_paths(worker_class) & _wsgi_workers())


def _gunicorn_version() -> tuple[int, ...]:
    return tuple(importlib.import_module("gunicorn").version_info)


def _is_gunicorn_asgi_worker(worker_class: Any) -> bool:
    return _supported_workers().get(ASGI_WORKER) in _class_paths(worker_class)


def has_asgi_worker() -> bool:
    """Whether the installed gunicorn's own ASGI worker (`-k asgi`, gunicorn >= 24) serves Flash
    as tested: from gunicorn 26 (see `old_asgi_worker_warning`)."""
    return ASGI_WORKER in _supported_workers() and _gunicorn_version() >= ASGI_WORKER_SINCE


def old_asgi_worker_warning(argv: list[str]) -> str | None:
    """What to say when gunicorn's own ASGI worker predates 26: Flash's several-worker tests fail
    there (a page may resume a stream whose worker is gone), and 24.0's arbiter never exits when
    a worker fails to boot."""
    version = _gunicorn_version()
    if version >= ASGI_WORKER_SINCE:
        return None
    found = ".".join(str(part) for part in version)
    return (
        f"gunicorn {found}: Flash is tested with gunicorn's asgi worker from gunicorn 26 on (before "
        f"it a page may resume a stream whose worker is gone). Upgrade gunicorn (pip install "
        f"'gunicorn>=26'), or run:\n    {asgi_command(argv, UVICORN_WORKER)} (pip install uvicorn-worker)"
    )


def asgi_command(argv: list[str], worker: str) -> str:
    """`argv` (a gunicorn command line) with its worker class replaced by `worker`."""
    program = os.path.basename(argv[0]) if argv else "gunicorn"
    if program in ("__main__.py", "-m", "-c") or program.startswith("python"):
        program = "python -m gunicorn"
    rest: list[str] = []
    args = iter(argv[1:])
    for arg in args:
        if arg in _WORKER_FLAGS:
            next(args, None)
        elif arg.startswith("--worker-class=") or (arg.startswith("-k") and arg != "-k"):
            continue
        else:
            rest.append(arg)
    return " ".join([program, "-k", worker] + [shlex.quote(arg) for arg in rest])


def wsgi_message(worker_name: str, argv: list[str], app_uri: str = "app:server") -> str:
    worker = ASGI_WORKER if has_asgi_worker() else UVICORN_WORKER
    command = asgi_command(argv, worker)
    extra = "" if worker == ASGI_WORKER else " (pip install uvicorn-worker)"
    uri = shlex.quote(app_uri)
    return (
        f"Flash apps are ASGI apps, but gunicorn's {worker_name!r} worker serves WSGI: every request "
        f"would fail. Run:\n    {command}{extra}\n"
        f'(or worker_class = "{worker}" in gunicorn.conf.py; `uvicorn {uri}` and '
        f"`hypercorn {uri}` work too)."
    )


def check_wsgi_server() -> None:
    """Log what to run and raise `WSGIServerError` when gunicorn loads this app for a WSGI worker."""
    if "gunicorn" not in sys.modules:
        return
    here = inspect.currentframe()  # None only on Pythons without frames: then no check
    loader = _gunicorn_loader(here.f_back if here is not None else None)
    if loader is None:
        return
    cfg = loader.cfg
    try:
        worker_class = cfg.worker_class
    except Exception:  # a worker gunicorn cannot load fails on its own
        return
    if not _is_wsgi_worker(worker_class):
        if _is_gunicorn_asgi_worker(worker_class):
            warning = old_asgi_worker_warning(list(sys.argv))
            if warning is not None:
                LOGGER.warning(warning)
        return
    message = wsgi_message(str(cfg.worker_class_str), list(sys.argv), _app_uri(loader))
    LOGGER.critical(message)
    raise WSGIServerError(message)
