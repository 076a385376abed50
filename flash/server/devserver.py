"""`app.run()`: Hypercorn on a fresh loop, with code reload in debug and request logs on request.

Like Dash's dev server it says "Flash is running on <url>", and a port in use is two lines and
exit status 1, not a traceback. The port is bound before anything else happens (the app's startup
included) and the banner, which Dash logs before it hands over to the server, is held until the
app's startup completed: neither a port in use nor a failed startup follows a "running on" line. A startup failure is reported by startup.py and
ends `app.run()` with exit status 3 (gunicorn's and uvicorn's "could not boot" status).

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
import socket
import sys
import threading
from typing import Any

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.utils import LifespanFailureError, wrap_app
from quart.utils import MustReloadError, observe_changes, restart

from .startup_failure import STARTUP_FAILED, already_reported

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


def _bind(config: Config, port: int) -> Sockets:
    """The server's sockets, bound now; a port in use is two lines and exit status 1, as Dash's
    (werkzeug's) dev server says it, and no traceback."""
    try:
        return config.create_sockets()
    except OSError as err:
        if err.errno != errno.EADDRINUSE:
            raise
    _drop_held_banner()
    print(os.strerror(errno.EADDRINUSE), file=sys.stderr)
    other = _free_port_near(config, port)
    print(
        f"Port {port} is in use by another program. Either identify and stop that program, "
        f"or start the server with a different port: app.run(port={other}).",
        file=sys.stderr,
    )
    sys.exit(1)


def _free_port_near(config: Config, port: int) -> int:
    """The next port after `port` that this host could bind now (so the advice works as printed)."""
    host = config.bind[0].rsplit(":", 1)[0].strip("[]")
    candidates: list[int] = [*range(port + 1, min(port + 100, 65536)), *range(port - 1, max(port - 100, 0), -1)]
    for candidate in candidates:
        probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        try:
            probe.bind((host, candidate))
        except OSError:
            continue
        finally:
            probe.close()
        return candidate
    return port + 1 if port < 65535 else port - 1


def _announce_when_started(asgi_app: Any) -> Any:
    """`asgi_app`, saying the held banner once its startup completed (dropping it if it failed):
    "Flash is running on" means it is. The lifespan runs on this thread's loop, like `app.run()`."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await asgi_app(scope, receive, send)
            return

        async def announce(message: Any) -> None:
            if message["type"] == "lifespan.startup.complete":
                _release_held_banner()
            elif message["type"] == "lifespan.startup.failed":
                _drop_held_banner()
            await send(message)

        await asgi_app(scope, receive, announce)

    return app


def _close(sockets: Sockets) -> None:
    for sock in (*sockets.secure_sockets, *sockets.insecure_sockets, *sockets.quic_sockets):
        sock.close()


def run_hypercorn(
    asgi_app: Any,
    host: str,
    port: int,
    *,
    use_reloader: bool = False,
    shutdown: asyncio.Event | None = None,
    access_log: bool = False,
    **options: Any,
) -> None:
    """Serve until SIGINT/SIGTERM or until `shutdown` is set (from any thread, on this loop: how
    Dash's threaded test runner stops a server); with `use_reloader`, restart on code changes."""
    config = hypercorn_config(host, port, access_log, **options)
    sockets = _bind(config, port)
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
    app = wrap_app(_announce_when_started(asgi_app), config.wsgi_max_body_size, "asgi")
    tasks = [loop.create_task(worker_serve(app, config, sockets=sockets, shutdown_trigger=shutdown.wait))]
    if use_reloader and in_main_thread:
        tasks.append(loop.create_task(observe_changes(asyncio.sleep, shutdown)))
    must_reload = False
    failed: LifespanFailureError | None = None
    try:
        loop.run_until_complete(asyncio.gather(*tasks))
    except MustReloadError:
        must_reload = True
    except LifespanFailureError as err:
        failed = err
    finally:
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()
        _close(sockets)
    if failed is not None:
        if not already_reported(failed):  # not a Quart app's startup: say what hypercorn said
            print(f"Flash could not start: {failed}", file=sys.stderr)
        sys.exit(STARTUP_FAILED)
    if must_reload:
        restart()


# The banner held for the `app.run()` of this thread: Dash logs it, then calls the server's `run`
# on the same thread, which says it once the port is bound and the app started (or drops it).
_HELD = threading.local()


class _FlashBanner(logging.Filter):
    """Dash's `app.run` logs "Dash is running on <url>"; a Flash app says Flash, once it is."""

    def __init__(self, logger: logging.Logger, hold: bool) -> None:
        super().__init__()
        self.logger = logger
        self.hold = hold

    def filter(self, record: logging.LogRecord) -> bool:
        if not (isinstance(record.msg, str) and record.msg.startswith("Dash is running on")):
            return True
        record.msg = "Flash" + record.msg[len("Dash") :]
        if self.hold and not getattr(record, "flash_released", False):
            _HELD.banner = (self.logger, record)
            return False
        return True


def _release_held_banner() -> None:
    held = getattr(_HELD, "banner", None)
    _HELD.banner = None
    if held is not None:
        logger, record = held
        record.flash_released = True
        logger.handle(record)


def _drop_held_banner() -> None:
    _HELD.banner = None


def flash_banner(logger: logging.Logger, hold: bool = False) -> None:
    """Make `logger` (the app's, which Dash's `run` logs its banner on) say "Flash is running on";
    with `hold`, only once `run_hypercorn` on the same thread has bound the port and started the app."""
    if not any(isinstance(f, _FlashBanner) for f in logger.filters):
        logger.addFilter(_FlashBanner(logger, hold))
