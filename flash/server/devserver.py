"""`app.run()`: Hypercorn on a fresh loop, with code reload in debug and request logs on request.

Like Dash's dev server it says "Flash is running on <url>", and a port in use is two lines and
exit status 1, not a traceback.

Request logs (one line per request, logger `flash.access`) are off unless asked for: with
`Flash(access_log=True)`, env `FLASH_ACCESS_LOG=1`, or Dash's `dev_tools_silence_routes_logging=False`
(env `DASH_SILENCE_ROUTES_LOGGING=false`). Hypercorn re-creates its "hypercorn.access" logger (and
resets its level) every time it starts, which is why Dash's silencing never worked on Quart: Flash
hands Hypercorn its own loggers (configured only if the user has not), or none for requests.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import os
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


_SWITCH = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _switch(name: str) -> bool | None:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    try:
        return _SWITCH[value.strip().lower()]
    except KeyError:
        raise ValueError(f"{name}={value!r}: use 1 or 0 (true/false).") from None


def access_log_enabled(access_log: bool | None, silence_routes_logging: bool | None) -> bool:
    """Whether `app.run()` logs requests: `Flash(access_log=...)`, else env FLASH_ACCESS_LOG, else
    the opposite of Dash's `dev_tools_silence_routes_logging` (or DASH_SILENCE_ROUTES_LOGGING) when
    given; else off (Dash's debug default silences them too)."""
    for choice in (access_log, _switch("FLASH_ACCESS_LOG")):
        if choice is not None:
            return choice
    if silence_routes_logging is None:
        silence_routes_logging = _switch("DASH_SILENCE_ROUTES_LOGGING")
    return silence_routes_logging is False


def hypercorn_config(host: str, port: int, access_log: bool = False, **options: Any) -> Config:
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = _default_logger(ACCESS_LOGGER, sys.stdout) if access_log else None
    config.errorlog = _default_logger(ERROR_LOGGER, sys.stderr)
    config.access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(D)sus'
    for key in ("certfile", "keyfile", "ca_certs", "keep_alive_timeout", "graceful_timeout"):
        if options.get(key) is not None:
            setattr(config, key, options[key])
    return config


def run_hypercorn(asgi_app: Any, host: str, port: int, *, use_reloader: bool = False,
                  shutdown: asyncio.Event | None = None, access_log: bool = False, **options: Any) -> None:
    """Serve until SIGINT/SIGTERM or until `shutdown` is set (from any thread, on this loop: how
    Dash's threaded test runner stops a server); with `use_reloader`, restart on code changes."""
    config = hypercorn_config(host, port, access_log, **options)
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
    port_taken = False
    try:
        loop.run_until_complete(asyncio.gather(*tasks))
    except MustReloadError:
        must_reload = True
    except OSError as err:
        if err.errno != errno.EADDRINUSE:
            raise
        port_taken = True
    finally:
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()
    if port_taken:  # as Dash's (werkzeug's) dev server says it: two lines, no traceback, exit 1
        print(os.strerror(errno.EADDRINUSE), file=sys.stderr)
        print(f"Port {port} is in use by another program. Either identify and stop that program, "
              "or start the server with a different port.", file=sys.stderr)
        sys.exit(1)
    if must_reload:
        restart()


class _FlashBanner(logging.Filter):
    """Dash's `app.run` logs "Dash is running on <url>"; a Flash app says Flash."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Dash is running on"):
            record.msg = "Flash" + record.msg[len("Dash"):]
        return True


def flash_banner(logger: logging.Logger) -> None:
    """Make `logger` (the app's, which Dash's `run` logs its banner on) say "Flash is running on"."""
    if not any(isinstance(f, _FlashBanner) for f in logger.filters):
        logger.addFilter(_FlashBanner())
