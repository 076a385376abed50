"""`app.run()`: Hypercorn on a fresh loop, with code reload in debug and silenceable logs.

Hypercorn re-creates its "hypercorn.access" logger (and resets its level) every time it starts,
which is why silencing Dash-on-Quart's request logs never worked. Flash hands Hypercorn the
`flash.access` / `flash.error` loggers instead; they are configured only if the user has not,
so `logging.getLogger("flash.access").setLevel(logging.WARNING)` silences request logs.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart.utils import MustReloadError, observe_changes, restart

ACCESS_LOGGER = "flash.access"
ERROR_LOGGER = "flash.error"


def _default_logger(name: str, stream: Any) -> logging.Logger:
    logger = logging.getLogger(name)
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "[%H:%M:%S]"))
        logger.addHandler(handler)
        logger.propagate = False
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return logger


def hypercorn_config(host: str, port: int, **options: Any) -> Config:
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = _default_logger(ACCESS_LOGGER, sys.stdout)
    config.errorlog = _default_logger(ERROR_LOGGER, sys.stderr)
    config.access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(D)sus'
    for key in ("certfile", "keyfile", "ca_certs", "keep_alive_timeout", "graceful_timeout"):
        if options.get(key) is not None:
            setattr(config, key, options[key])
    return config


def run_hypercorn(asgi_app: Any, host: str, port: int, *, use_reloader: bool = False,
                  shutdown: asyncio.Event | None = None, **options: Any) -> None:
    """Serve until SIGINT/SIGTERM or until `shutdown` is set (from any thread, on this loop: how
    Dash's threaded test runner stops a server); with `use_reloader`, restart on code changes."""
    config = hypercorn_config(host, port, **options)
    in_main_thread = threading.current_thread() is threading.main_thread()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    if shutdown is None:
        shutdown = asyncio.Event()
    if in_main_thread:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, shutdown.set)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
                pass
    tasks = [loop.create_task(serve(asgi_app, config, shutdown_trigger=shutdown.wait))]
    if use_reloader and in_main_thread:
        tasks.append(loop.create_task(observe_changes(asyncio.sleep, shutdown)))
    must_reload = False
    try:
        loop.run_until_complete(asyncio.gather(*tasks))
    except MustReloadError:
        must_reload = True
    finally:
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()
    if must_reload:
        restart()
