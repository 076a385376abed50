"""`Flash`: `dash.Dash` on Quart, with async layouts/callbacks and sync work kept off the loop."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Sequence

import dash
from dash import html
from quart import Quart

from . import client  # noqa: F401  (registers the JS client as a component suite)
from .app_host import AppHost
from .app_streams import AppStreams
from .compat.dash import (
    add_url,
    extra_components,
    refuse_dash45_keywords,
    register_from_caller,
    validate_layout,
    validate_layout_type,
)
from .gc_tuning import tune_collector
from .layout import DASH_SETUP, is_async_callable, layout_now, layout_value, resolve_layout
from .metrics import enable_metrics, metrics_route
from .pages import setup_router
from .server import FlashServer
from .server.context import build_callback_context
from .server.dash_options import take_stream_options
from .server.direct import direct_path_option, install_page_routes
from .server.jsonfast import dumps
from .server.limits import DEFAULT_MAX_JSON_DEPTH, Limits, max_request_size_option
from .server.mcp import execute_for_mcp, install_mcp
from .server.page_cache import PageCache, note_end_id
from .server.shutdown import DEFAULT_SHUTDOWN_GRACE, GracefulShutdown
from .server.shutdown import shutdown_grace as shutdown_grace_option
from .server.startup import install_startup
from .server.threads import DEFAULT_THREAD_QUEUE_WARNING, queue_warning, run_in_thread
from .server.threads import thread_pool_size as thread_pool_size_option
from .server.ws_config import page_config
from .server.wsgi_guard import check_wsgi_server
from .storage import RedisSharedStorage
from .storage import config as storage_config
from .storage import context as storage_context
from .storage.base import DASH_HAS_SHARED_STORAGE, BaseSharedStorage
from .storage.base import aclose as close_storage
from .streaming.bus.stream_bus import StreamBus
from .streaming.declare.decorators import streaming_decorator
from .streaming.declare.spec import EventCallbackSpec
from .streaming.host import StreamHost
from .streaming.run.devtools import install_devtools_routes
from .streaming.wire import jobs as stream_jobs
from .streaming.wire.direct import install_stream_routes
from .streaming.wire.downlink import DownlinkRegistry
from .streaming.wire.endpoint import make_stream_views
from .streaming.wire.handles import Signer, resolve_secret
from .streaming.wire.mcp_tools import StreamTools

refuse_dash45_keywords()  # on Dash 4.4: `partial_pattern=`, `get_prop(path=)` name the Dash they need


class Flash(AppStreams, AppHost, dash.Dash):
    """A Dash app served by Quart. Takes every `dash.Dash` argument, plus:

    :param max_request_size: largest request body in bytes (default 16 MiB, env
        ``FLASH_MAX_REQUEST_SIZE``); larger bodies get a 413 JSON error.
    :param thread_pool_size: threads for sync callbacks, layouts and generators (default 100,
        env ``FLASH_THREAD_POOL_SIZE``): sized for blocking calls, started only when needed.
    :param thread_queue_warning: seconds a sync call may wait for a free thread before a warning
        is logged (default 1; one line at most once a minute; None: no warning).
    :param shutdown_grace: seconds a stopping worker (SIGTERM, a reload) waits for its streams'
        generators to run their ``finally`` after it closed them (default 5). Open downlinks get
        a final ``shutdown`` event and end at once; the page starts its streams over elsewhere.
    :param stream_heartbeat: seconds between SSE heartbeats on an idle stream (default 15; Dash
        4.5's ``stream_keepalive_interval``, in milliseconds, sets it too: see server/dash_options.py).
    :param stream_replay_size: messages a stream keeps for resuming after a drop (default 256).
    :param stream_resume_window: seconds a dropped stream waits for its client to reconnect
        before its generator is closed (default 5).
    :param secret_key: signs the stream handles a browser gets (default env ``FLASH_SECRET_KEY``,
        else ``DASH_SECRET_KEY``, else the key file every worker on this machine shares, 0600 in
        the user's temp dir: set it when workers on several machines serve the app).
    :param stream_give_up: seconds a browser keeps trying to reconnect its downlink before its
        streams are reset and reported failed (default 30).
    :param tune_gc: when the server starts, freeze the startup heap out of the garbage
        collector's scans and raise its young-generation threshold (default True; see
        ``flash/gc_tuning.py``). False leaves Python's collector settings alone.
    :param allowed_origins: origins (``"https://app.example.com"``) allowed to POST to the
        callback and stream endpoints besides the app's own (env ``FLASH_ALLOWED_ORIGINS``,
        comma separated). Default None: no Origin check (those endpoints accept only
        ``application/json``, which browsers never send cross-site without a CORS preflight).
        A list: a POST whose ``Origin`` is neither same-origin (its host equals ``Host``, or
        ``X-Forwarded-Host`` behind a proxy) nor listed gets a 403; ``"*"`` turns the check off.
    :param max_json_depth: how deep request JSON may nest (default 100); deeper bodies get a 400
        before anything recurses into them.
    :param direct_path: answer callbacks, stream starts and cached page GETs in front of Quart
        when nothing registered on the server would notice (default True, env
        ``FLASH_DIRECT_PATH``; server/direct.py). False: every request takes Quart's full cycle,
        for apps relying on Quart features the direct path does not model.
    :param metrics: serve this worker's stream metrics in Prometheus' text format at
        ``GET <prefix>_flash/metrics`` (live runs and downlinks, starts and ends, frames, bytes,
        frame lag, stalled readers, thread-pool wait; docs/metrics.md). Default None: env
        ``FLASH_METRICS`` (1/0), else off (no route, no counting). Needs ``prometheus-client``
        (``pip install dash-flash[metrics]``).
    Stream limits, each from its argument, else env ``FLASH_<OPTION>``, else its default (docs/options.md
    has the table; together they bound a worker's memory for streams whatever clients send,
    ``app.limits.memory_bound()``, docs/streaming-protocol.md "Limits"): ``max_streams`` (2,000: 503),
    ``max_streams_per_client`` (256: 429), ``max_streams_per_address`` (1,000: 429; behind a proxy let the
    server take the address from ``X-Forwarded-For``), ``max_downlinks`` (10,000: 503),
    ``max_downlinks_per_address`` (2,500: 429), ``max_stream_start_bytes`` (1 MiB: 413),
    ``stream_start_budget`` (16 MiB: 503), ``stream_buffer_bytes`` (64 KiB), ``stream_write_timeout``
    (30 s: a reader that stopped is cut), ``stream_replay_bytes`` (1 MiB).

    :param shared_storage: Dash 4.5's shared storage (key/value with TTL, ordered replayable
        pub/sub) behind ``app.shared_storage`` and ``ctx.shared_storage``: a backend
        (``LocalSharedStorage()``, ``DiskcacheSharedStorage(...)``, ``RedisSharedStorage(url)``),
        a string (``"local"``, ``"diskcache:///abs/path"``, ``"redis://host:6379/0"``), or None
        (off). Not given: env ``FLASH_SHARED_STORAGE``, else ``DASH_SHARED_STORAGE``, else off.
    :param access_log: ``app.run()`` logs one line per request (logger ``flash.access``). Default
        None: env ``FLASH_ACCESS_LOG`` (1/0), else on only if Dash's
        ``dev_tools_silence_routes_logging=False`` (env ``DASH_SILENCE_ROUTES_LOGGING=false``) was
        given; else off. Production servers (``hypercorn``/``uvicorn`` commands) log by their own options.
    """

    backend: FlashServer
    server: Quart
    layout_version = 0  # bumped by every `app.layout = ...`: the page cache's key (server/page_cache.py)

    def __init__(
        self,
        name: str | None = None,
        server: Any = True,
        *,
        max_request_size: int | None = None,
        thread_pool_size: int | None = None,
        thread_queue_warning: float | None = DEFAULT_THREAD_QUEUE_WARNING,
        shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE,
        stream_heartbeat: float = 15.0,
        stream_replay_size: int = 256,
        stream_resume_window: float = 5.0,
        stream_give_up: float = 30.0,
        secret_key: str | bytes | None = None,
        tune_gc: bool = True,
        allowed_origins: Sequence[str] | None = None,
        max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
        max_streams_per_client: int | None = None,
        max_downlinks: int | None = None,
        stream_write_timeout: float | None = None,
        stream_replay_bytes: int | None = None,
        max_streams: int | None = None,
        max_streams_per_address: int | None = None,
        max_downlinks_per_address: int | None = None,
        max_stream_start_bytes: int | None = None,
        stream_start_budget: int | None = None,
        stream_buffer_bytes: int | None = None,
        shared_storage: Any = storage_config.UNSET,
        access_log: bool | None = None,
        direct_path: bool | None = None,
        metrics: bool | None = None,
        **kwargs: Any,
    ) -> None:
        check_wsgi_server()  # `gunicorn app:server` (a WSGI worker): fail now, naming the command
        backend = kwargs.pop("backend", None)
        if backend not in (None, "quart", FlashServer):
            raise ValueError(
                f"Flash always runs on Quart; got backend={backend!r}. Drop the `backend` argument "
                "(or use dash.Dash for Flask/FastAPI)."
            )
        user_server = None
        if server not in (None, True, False):
            if not isinstance(server, Quart):
                raise TypeError(f"Flash(server=...) takes True, False or a quart.Quart app, not {type(server).__name__}.")
            user_server, server = server, False
            name = name or user_server.name
        kwargs.setdefault("use_async", True)
        if access_log not in (None, True, False):
            raise TypeError(f"access_log takes True, False or None, not {access_log!r}.")
        self.access_log: bool | None = access_log
        self.direct_path_enabled = direct_path_option(direct_path)
        self.silence_routes_logging: bool | None = None  # Dash's dev-tools option, when given
        self._flash_setup_lock = asyncio.Lock()
        self._setup_done = False  # Dash's and the router's first-request setup both finished
        self._serving_loop: asyncio.AbstractEventLoop | None = None  # where async layouts run
        self._async_layout_checked = False
        self._max_request_size = max_request_size_option(max_request_size)
        self._thread_pool_size = thread_pool_size_option(thread_pool_size)
        self._thread_queue_warning = queue_warning(thread_queue_warning)
        self._shutdown = GracefulShutdown(self, shutdown_grace_option(shutdown_grace))
        self.stream_heartbeat = take_stream_options(kwargs, DASH_HAS_SHARED_STORAGE) or stream_heartbeat
        self.stream_replay_size = stream_replay_size
        self.stream_resume_window = stream_resume_window
        self.stream_give_up = stream_give_up
        self.stream_signer = Signer(*resolve_secret(secret_key))
        self.tune_gc = tune_gc
        self.limits = Limits(
            allowed_origins,
            max_json_depth,
            max_streams_per_client=max_streams_per_client,
            max_downlinks=max_downlinks,
            stream_write_timeout=stream_write_timeout,
            stream_replay_bytes=stream_replay_bytes,
            max_streams=max_streams,
            max_streams_per_address=max_streams_per_address,
            max_downlinks_per_address=max_downlinks_per_address,
            max_stream_start_bytes=max_stream_start_bytes,
            stream_start_budget=stream_start_budget,
            stream_buffer_bytes=stream_buffer_bytes,
        )
        self.streams: dict[str, EventCallbackSpec] = {}
        self.stream_runs = DownlinkRegistry(
            stream_resume_window, self.limits.stream_write_timeout, self.limits.stream_buffer_bytes
        )
        enable_metrics(self, metrics)  # sets stream_runs.metrics when on (flash/metrics)
        self._pending_streams: list[EventCallbackSpec] = []
        self._streams_taken = False  # the first request took the pending streams: wire new ones at once
        self._shared_storage_backend = storage_config.resolve(shared_storage)
        if isinstance(self._shared_storage_backend, RedisSharedStorage):  # streams cross workers
            self.stream_runs.bus = StreamBus(
                self._shared_storage_backend, self.stream_runs, replay_bytes=self.limits.stream_replay_bytes
            )
        storage_context.install()  # ctx.shared_storage (Dash 4.5), once a Flash app exists
        self.page_cache = PageCache(self)  # the page GETs' answers, made once (server/page_cache.py)
        if DASH_HAS_SHARED_STORAGE:
            # Dash 4.5 holds the same backend (None: off, so its own default never starts):
            # Dash's `shared_storage_enabled` and anything of Dash reading the app's storage see
            # Flash's. Flash's transport carries the streams (see `_config`).
            kwargs["shared_storage"] = self._shared_storage_backend
        super().__init__(name=name, server=server, backend=FlashServer, **kwargs)
        stream_jobs.register(self)  # background=True event callbacks on the CeleryManager's workers
        self._configure_server(self.server)
        if user_server is not None:
            self.init_app(user_server)

    def _configure_server(self, server: Quart) -> None:
        self.backend.thread_pool_size = self._thread_pool_size
        self.backend.thread_queue_warning = self._thread_queue_warning
        self._shutdown.install(server)
        install_startup(self, server)  # component registry ready, Flask-only hooks refused
        if self._max_request_size is not None:
            server.config["MAX_CONTENT_LENGTH"] = self._max_request_size
        if self.tune_gc and tune_collector not in server.before_serving_funcs:
            server.before_serving(tune_collector)
        storage = self._shared_storage_backend
        bus = self.stream_runs.bus
        if bus is not None and bus.stop not in server.after_serving_funcs:
            server.after_serving(bus.stop)  # before the storage closes: its last writes land
        if storage is not None and self._close_storage not in server.after_serving_funcs:
            server.after_serving(self._close_storage)

    async def _close_storage(self) -> None:
        if self._shared_storage_backend is not None:
            await close_storage(self._shared_storage_backend)

    def enable_dev_tools(self, *args: Any, **kwargs: Any) -> bool:
        """Dash's; notes whether `dev_tools_silence_routes_logging` was given (request logs follow
        it then: see `access_log`)."""
        parent = super().enable_dev_tools
        given = inspect.signature(parent).bind(*args, **kwargs).arguments.get("dev_tools_silence_routes_logging")
        if given is not None:
            self.silence_routes_logging = bool(given)
        return bool(parent(*args, **kwargs))

    # On Dash 4.5 (its property returns its own base class, which Flash's subclasses there; mypy
    # sees Flash's base on either Dash): the same object Dash's property returns.
    @property
    def shared_storage(self) -> BaseSharedStorage:  # type: ignore[override,unused-ignore]
        """The app's shared storage (Dash 4.5); `SharedStorageError` when it is off."""
        return storage_context.storage_of(self)

    @property
    def shared_storage_enabled(self) -> bool:
        """Whether the app has shared storage (Dash 4.5's name; on Dash 4.4 too)."""
        return self._shared_storage_backend is not None

    def init_app(self, app: Any = None, **kwargs: Any) -> None:
        if app is not None:
            if not isinstance(app, Quart):
                raise TypeError(f"init_app() takes a quart.Quart app, not {type(app).__name__}.")
            self._configure_server(app)
        super().init_app(app, **kwargs)

    def _setup_routes(self) -> None:
        super()._setup_routes()
        views = make_stream_views(self)
        downlink_view, start_view, close_view = views
        add_url(self, "_flash/downlink", downlink_view, ["POST"])
        add_url(self, "_flash/stream/<string:stream_id>", start_view, ["POST"])
        add_url(self, "_flash/close", close_view, ["POST"])
        if (scrape := metrics_route(self)) is not None:
            add_url(self, "_flash/metrics", scrape, ["GET"])
        install_stream_routes(self, views)
        install_devtools_routes(self)  # the dev tools' Streams panel (404 unless debug)
        install_page_routes(self, self.server)
        # Dash's MCP server, its tool calls off the loop (server/mcp.py); streams are tools too
        self.mcp_streams = StreamTools(self)
        install_mcp(self, self.mcp_streams)

    def _execute_callback(self, func: Any, args: Any, outputs_list: Any, g: Any) -> Any:
        """Dash's; for Dash's MCP server, one that awaits an async callback (server/mcp.py)."""
        return execute_for_mcp(self, super()._execute_callback(func, args, outputs_list, g))

    def callback(self, *args: Any, **kwargs: Any) -> Any:
        """Dash's `app.callback`; on a generator it streams (see `flash.callback`)."""
        plain = super().callback  # never `dash.Dash.callback`: a harness may set `dash.Dash = Flash`
        return self._late_streams(
            streaming_decorator(
                self._pending_streams, args, kwargs, lambda func: register_from_caller(plain, *args, **kwargs)(func)
            )
        )

    def _config(self) -> Any:
        """Dash's page config; names Dash's websocket only if a callback uses it (ws_config.py)."""
        return note_end_id(page_config(super()._config(), self.callback_map))

    def _generate_config_html(self) -> str:
        """Dash's renderer config, made once per config; each page load gets its own end_id."""
        return self.page_cache.renderer_config(super()._generate_config_html)

    def as_stream_host(self) -> StreamHost:
        """The app as flash/server and flash/streaming take it (their host.py): mypy checks here
        that Flash has every member they use, with their types."""
        return self

    def _initialize_context(self, body: Any) -> Any:
        """Dash's callback context, with request details read lazily (see server/context.py);
        the layers below call it as `callback_context` (app_host.py)."""
        spec = self.callback_map.get(body.get("output")) or {}
        cb_ctx = build_callback_context(super()._initialize_context, body, eager=bool(spec.get("background")))
        return storage_context.attach(cb_ctx, self)

    # --- layout -------------------------------------------------------------------------
    @property
    def layout(self) -> Any:
        return self._layout

    @layout.setter
    def layout(self, value: Any) -> None:
        self.layout_version += 1
        if is_async_callable(value):
            # An async layout can only run on the event loop: it is validated on first request.
            validate_layout_type(value)
            self._layout_is_function = True
            self._layout = value
            return
        # Dash's setter, found through the MRO: `dash.Dash` may be patched to Flash by a harness.
        super(Flash, type(self)).layout.fset(self, value)  # type: ignore[attr-defined]

    def _layout_value(self) -> Any:
        if not is_async_callable(self._layout):
            return super()._layout_value()
        if DASH_SETUP.get():
            # Dash's setup validates this; an async layout is checked when first served instead,
            # so that setup does not run it one extra time.
            return html.Div(list(extra_components(self)))
        return layout_now(self, layout_value(self))

    def get_layout(self) -> Any:
        """Dash's `get_layout()`: the layout with extra components and layout hooks. An
        `async def` layout runs to completion, on the server's loop when the server runs; on
        the event loop itself use `await app.get_layout_async()` (see layout.py)."""
        if is_async_callable(self._layout):
            return layout_now(self, resolve_layout(self))
        return super().get_layout()

    async def get_layout_async(self) -> Any:
        """`get_layout()` for async code: awaits an async layout, runs a sync one in the pool."""
        return await resolve_layout(self)

    async def serve_layout(self) -> Any:
        layout = await resolve_layout(self)
        if not self._async_layout_checked and is_async_callable(self._layout):
            # Once, like Dash's check of a layout function's first result at setup.
            self._async_layout_checked = True
            validate_layout(self._layout, layout)
        return self.backend.make_response(dumps(layout), mimetype="application/json")

    async def _setup_server(self) -> None:
        """Dash's first-request setup (in a thread: it may call a sync layout), then the pages
        router's, run once. The one before_request hook: the direct path requires it alone."""
        self._serving_loop = asyncio.get_running_loop()
        if self._setup_done:
            return
        async with self._flash_setup_lock:
            if self._setup_done:
                return
            self.take_streams()
            token = DASH_SETUP.set(True)
            try:
                await run_in_thread(self.backend.executor, super()._setup_server)
            finally:
                DASH_SETUP.reset(token)
            if self.use_pages:
                await setup_router(self)
            self._setup_done = True

    def enable_pages(self) -> None:
        """Dash's (it imports the pages folder); the router Dash builds is set aside, not made a
        Quart hook: Flash's router is set up on the first request, by `_setup_server` (see
        pages.py for why it differs)."""
        with self.backend.set_aside():
            super().enable_pages()
