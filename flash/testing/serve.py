"""Serve an app's `server` (ASGI, or WSGI for plain Flask Dash apps) on a pre-bound socket.

The socket is bound by the test process before the server starts, so the port is reserved
with no check-then-bind race between parallel tests.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Any, Literal

logger = logging.getLogger(__name__)

ServerKind = Literal["hypercorn", "uvicorn"]
SERVER_KINDS: tuple[str, ...] = ("hypercorn", "uvicorn")

# `app.run()` / werkzeug options that Dash tests pass to `start_server`; meaningless here.
IGNORED_RUN_OPTIONS = frozenset(
    {
        "use_reloader",
        "use_debugger",
        "use_evalex",
        "threaded",
        "processes",
        "extra_files",
        "reloader_type",
        "reloader_interval",
        "passthrough_errors",
        "proxy",
        "jupyter_mode",
        "jupyter_width",
        "jupyter_height",
        "jupyter_server_url",
    }
)


@dataclass
class ServePlan:
    """What `start_server(app, **kwargs)` asked for, validated in the test process."""

    kind: str = "hypercorn"
    debug: bool | None = None
    dev_tools: dict[str, Any] = field(default_factory=dict)
    hide_all_callbacks: bool | None = None
    graceful_timeout: float = 1.0

    @classmethod
    def from_kwargs(cls, app: Any, server: str = "hypercorn", **kwargs: Any) -> "ServePlan":
        """Split `start_server` kwargs; unknown names raise here rather than in the server."""
        if server not in SERVER_KINDS:
            raise ValueError(f"server={server!r}; expected one of {SERVER_KINDS}")
        allowed = _dev_tools_params(app)
        plan = cls(kind=server, debug=kwargs.pop("debug", None))
        plan.hide_all_callbacks = kwargs.pop("hide_all_callbacks", None)
        for name in list(kwargs):
            if name.startswith("dev_tools_"):
                if name not in allowed:
                    raise TypeError(f"{type(app).__name__}.enable_dev_tools() has no {name!r}")
                plan.dev_tools[name] = kwargs.pop(name)
            elif name in IGNORED_RUN_OPTIONS:
                kwargs.pop(name)
        if kwargs:
            raise TypeError(f"start_server() got unexpected options: {sorted(kwargs)}")
        return plan


def _dev_tools_params(app: Any) -> set[str]:
    """The `dev_tools_*` options the app's `enable_dev_tools` takes: the first class in its MRO
    that names them (Flash's override takes `*args, **kwargs` and passes them to Dash's)."""
    for cls in type(app).__mro__:
        method = cls.__dict__.get("enable_dev_tools")
        if method is not None:
            names = {name for name in inspect.signature(method).parameters if name.startswith("dev_tools_")}
            if names:
                return names
    return set()


def prepare_app(app: Any, plan: ServePlan) -> None:
    """Do what `app.run()` would before serving: local assets and (optionally) dev tools."""
    app.scripts.config.serve_locally = True
    app.css.config.serve_locally = True
    if plan.hide_all_callbacks is not None:
        app.config.update({"hide_all_callbacks": plan.hide_all_callbacks})
    if plan.debug is not None or plan.dev_tools:
        options = dict(plan.dev_tools)
        # Hot reload polls and watches files: noise in a test unless asked for explicitly.
        options.setdefault("dev_tools_hot_reload", False)
        options["dev_tools_disable_version_check"] = True
        app.enable_dev_tools(debug=plan.debug, **options)


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """Bind and listen on `host:port` (0 = any free port) and return the socket."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def is_asgi(server: Any) -> bool:
    """Quart/Starlette apps have an `async __call__`; Flask's WSGI `__call__` is sync."""
    call = server if inspect.isroutine(server) else getattr(type(server), "__call__", None)
    return inspect.iscoroutinefunction(call)


async def serve(server: Any, fd: int, kind: str, shutdown: asyncio.Event, plan: ServePlan) -> None:
    """Serve `server` on listening socket `fd` (ownership passes here) until `shutdown` is set."""
    asgi = is_asgi(server)
    if kind == "uvicorn":
        await _serve_uvicorn(server, fd, asgi, shutdown, plan)
        return
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"fd://{fd}"]
    config.graceful_timeout = plan.graceful_timeout
    config.accesslog = None
    await hypercorn_serve(server, config, shutdown_trigger=shutdown.wait, mode="asgi" if asgi else "wsgi")


async def _serve_uvicorn(server: Any, fd: int, asgi: bool, shutdown: asyncio.Event, plan: ServePlan) -> None:
    import uvicorn

    config = uvicorn.Config(
        server,
        interface="auto" if asgi else "wsgi",
        lifespan="auto",
        log_level="warning",
        timeout_graceful_shutdown=max(1, int(plan.graceful_timeout)),
    )
    userver = uvicorn.Server(config)

    async def watch_shutdown() -> None:
        await shutdown.wait()
        userver.should_exit = True

    watcher = asyncio.create_task(watch_shutdown())
    sock = socket.socket(fileno=fd)
    try:
        await userver.serve(sockets=[sock])
    finally:
        watcher.cancel()
        sock.close()


def run_server_forever(app: Any, fd: int, plan: ServePlan) -> None:
    """Body of the forked child: fresh event loop, serve until killed."""
    prepare_app(app, plan)
    with asyncio.Runner() as runner:
        runner.run(serve(app.server, fd, plan.kind, asyncio.Event(), plan))


def close_fd(fd: int | None) -> None:
    """Close a raw descriptor, ignoring one that is already closed."""
    if fd is None:
        return
    try:
        os.close(fd)
    except OSError:
        pass
