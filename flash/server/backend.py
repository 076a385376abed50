"""Flash's server backend: Dash's Quart backend with Flash's dispatch, errors and runner.

It plugs into Dash through the public backend interface (`dash.backends.base_server`) as a
subclass of Dash's Quart backend: app creation, component suites, the catch-all page, request
hooks, websockets and the adapters are Dash's; each override says why Flash differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
from typing import TYPE_CHECKING, Any, Callable, Iterator

from dash.exceptions import InvalidResourceError, PreventUpdate
from quart import Quart, Response, request
from werkzeug.exceptions import HTTPException

from ..compat import dash as dash_compat
from ..compat.dash import QuartDashServer, format_traceback_html
from .compression import enable_gzip
from .context import DEFERRING, DeferredRequestAdapter, DeferredResponseAdapter
from .devserver import access_log_enabled, run_hypercorn
from .direct import install_callback_route
from .dispatch import make_dispatch
from .errors import RequestError, escaped, http_error_response, json_error, request_error_response, request_line
from .executor import FlashExecutor
from .flask_hints import add_flask_hint
from .host import ServerHost, as_host
from .page_cache import cached_view
from .suites import ONE_YEAR, SUITE_ERRORS, check_relative_path, suite_error
from .threads import thread_pool_size as pool_size_option
from .threads import watch_queue

if TYPE_CHECKING:
    from dash import Dash

DEFAULT_MAX_REQUEST_SIZE = 16 * 1024 * 1024
# Paths under the routes prefix that belong to the framework, never to a page of the app.
RESERVED_PREFIXES = ("_dash-", "_flash/", "_reload-hash")


def _awaiting(view: Callable[..., Any]) -> Callable[..., Any]:
    """Quart would run a sync view in a thread and get back an un-awaited coroutine."""

    @functools.wraps(view)
    async def call(*args: Any, **kwargs: Any) -> Any:
        return await view(*args, **kwargs)

    return call


class FlashServer(QuartDashServer):
    """Dash backend for Flash; `server_type` stays "quart" so Dash treats it as its Quart peer."""

    def __init__(self, server: Quart) -> None:
        super().__init__(server)
        self.thread_pool_size: int | None = None  # Flash sets it (see threads.thread_pool_size)
        self.thread_queue_warning: float | None = None
        self._pool: FlashExecutor | None = None
        self._watched: FlashExecutor | None = None
        self.response_adapter = DeferredResponseAdapter
        self._dash_app: "ServerHost | None" = None
        self._set_aside: list[Callable[..., Any]] | None = None

    @property
    def request_adapter(self) -> type[Any]:
        """Dash's Quart request adapter; while Flash builds a callback context, the one that
        leaves request details to be read lazily (see context.py)."""
        return DeferredRequestAdapter if DEFERRING.get() else self._request_adapter

    @request_adapter.setter
    def request_adapter(self, value: type[Any]) -> None:
        self._request_adapter = value

    @staticmethod
    def create_app(name: str = "__main__", config: dict[str, Any] | None = None) -> Quart:
        """Dash's, with Flash's documented request-size default whatever Quart's default is."""
        app: Quart = QuartDashServer.create_app(name, config)
        if "MAX_CONTENT_LENGTH" not in (config or {}):
            app.config["MAX_CONTENT_LENGTH"] = DEFAULT_MAX_REQUEST_SIZE
        return app

    def get_callback_executor(self, max_workers: int | None = None) -> FlashExecutor:  # type: ignore[override]
        """Flash's pool (server/executor.py) where Dash makes a ThreadPoolExecutor: it runs the same
        calls (Dash's WebSocket callbacks submit to it too) with a cheaper hop back to the loop.
        Its size is the app's `thread_pool_size`, whoever asks first (Dash's WebSocket handler
        asks for 4)."""
        if self._pool is None:
            size = self.thread_pool_size if self.thread_pool_size is not None else max_workers
            self._pool = FlashExecutor(pool_size_option(size), "flash-callback")
        return self._pool

    def shutdown_executor(self, wait: bool = True) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait)

    @property
    def executor(self) -> FlashExecutor:
        """The pool that sync callbacks, layouts and generators run in (`get_callback_executor`),
        with its queue watched (see threads.py). In a process forked after the pool started (a test
        runner, `gunicorn --preload`) the pool's threads did not come along: the pool starts over
        by itself there (executor.py), so this costs no `getpid()` per call."""
        executor = self.get_callback_executor(self.thread_pool_size)
        if executor is not self._watched:
            self._watched = executor
            watch_queue(executor, self.thread_queue_warning, self.thread_pool_size)
        return executor

    # --- routes -------------------------------------------------------------------------
    def add_url_rule(
        self, rule: str, view_func: Callable[..., Any], endpoint: str | None = None, methods: list[str] | None = None
    ) -> None:
        """Await an `async def` view hidden behind a sync wrapper (e.g. Dash's `hooks.route`)."""
        if not inspect.iscoroutinefunction(view_func) and inspect.iscoroutinefunction(inspect.unwrap(view_func)):
            view_func = _awaiting(view_func)
        super().add_url_rule(rule, view_func, endpoint=endpoint, methods=methods)

    # Dash's backend interface types the app as a `Dash`; `as_host` checks it is a Flash app (a
    # `ServerHost`: server/host.py) where Flash's own parts need one.
    def serve_callback(self, dash_app: Dash) -> Callable[..., Any]:
        host = as_host(dash_app)
        view = make_dispatch(host)
        install_callback_route(host, self.server, view)
        return view

    def serve_component_suites(self, dash_app: Dash, package_name: str, fingerprinted_path: str) -> Response:
        """Dash's (its `setup_component_suites` route calls this), with a path check first and
        4xx JSON errors that do not quote the request (Dash's errors are 500s naming every
        registered path); fingerprinted files are also marked `immutable`."""
        check_relative_path(fingerprinted_path)
        try:
            response: Response = super().serve_component_suites(dash_app, package_name, fingerprinted_path)
        except SUITE_ERRORS as err:
            raise suite_error(err, dash_app.registered_paths, package_name, fingerprinted_path) from None
        if "Cache-Control" in response.headers:
            response.headers["Cache-Control"] = ONE_YEAR
        return response

    def setup_catchall(self, dash_app: Dash) -> None:
        """Dash's catch-all (every other GET path serves the page, for client-side routing),
        except the framework's own prefixes: a wrong `_dash-*` or `_flash/` URL is a mistake,
        not a page, and answers a JSON 404. A page is served from the page cache when it can be
        (server/page_cache.py)."""
        super().setup_catchall(dash_app)
        endpoint = dash_app.config.routes_pathname_prefix + "<path:path>"
        dash_catchall = cached_view(as_host(dash_app), "index", self.server.view_functions[endpoint])

        async def catchall(path: str, *args: Any, **kwargs: Any) -> Any:
            if path.startswith(RESERVED_PREFIXES):
                raise RequestError("There is no Flash or Dash endpoint at this path.", status=404, debug=f"path: /{path[:200]}")
            page = dash_catchall(path, *args, **kwargs)
            return await page if inspect.isawaitable(page) else page

        self.server.view_functions[endpoint] = catchall

    def setup_backend(self, dash_app: Dash) -> None:
        self._dash_app = as_host(dash_app)

    # --- errors ---------------------------------------------------------------------------
    def _is_framework_path(self) -> bool:
        """Flash answers JSON on its own and Dash's routes (those Dash's `_add_url` registered:
        `dash_app.routes`, and the assets); a user's own Quart routes keep Quart's handling."""
        app = self._dash_app
        if app is None:
            return True
        prefix = app.config.routes_pathname_prefix
        path = request.path
        rule = request.url_rule
        if rule is not None:
            assets = prefix + app.config.assets_url_path.strip("/") + "/"
            return rule.endpoint in app.routes or path.startswith(assets)
        # No route at all under the app's prefix (the catch-all takes every page path a browser
        # asks for, so this is a path it cannot even match, e.g. one with a newline, or a method
        # no route takes).
        return path.startswith(prefix)

    def _debugging(self) -> bool:
        """Dev tools / debug on: error bodies may say more (Dash's own prune/raise modes)."""
        return self.error_handling_mode != "ignore"

    def register_error_handlers(self) -> None:
        server = self.server

        @server.errorhandler(PreventUpdate)
        async def _prevent_update(_: PreventUpdate) -> Any:
            return "", 204

        @server.errorhandler(InvalidResourceError)
        async def _invalid_resource(err: InvalidResourceError) -> Any:
            # Dash's message names the requested file: only debug mode shows it.
            detail = str(err.args[0])[:300] if err.args else None
            return request_error_response(RequestError("Resource not found.", status=404, debug=detail), self._debugging())

        @server.errorhandler(RequestError)
        async def _request_error(err: RequestError) -> Any:
            return request_error_response(err, self._debugging())

        @server.errorhandler(Exception)
        async def _any_error(err: Exception) -> Any:
            add_flask_hint(err)  # Flask's "outside of request context": say the Quart way
            if isinstance(err, HTTPException):
                if err.code == 413:
                    limit = server.config.get("MAX_CONTENT_LENGTH")
                    return request_error_response(
                        RequestError(
                            f"The request body is larger than the {limit}-byte limit "
                            "(set Flash(max_request_size=...) to change it).",
                            status=413,
                        )
                    )
                return http_error_response(err) if self._is_framework_path() else err
            if not self._is_framework_path():
                raise err  # as if this handler were not there: Quart's 500 page (debug: its traceback)
            return self._server_error(err)

    def _server_error(self, err: Exception) -> Response:
        if self.error_handling_mode == "ignore":
            method, path = request_line()
            self.server.logger.error("Exception on %s [%s]", escaped(path), escaped(method, 20), exc_info=err)
            return json_error(500, "Internal server error.")
        html = format_traceback_html(err, self.error_handling_mode, "Flash Debugger", "Flash")
        return Response(html, status=500, content_type="text/html")

    def register_prune_error_handler(self, secret: str, prune_errors: bool) -> None:
        # The generic handler above reads this mode; debug shows the traceback in dev tools.
        self.error_handling_mode = "prune" if prune_errors else "raise"

    def enable_compression(self) -> None:
        enable_gzip(self.server)

    # --- hooks ----------------------------------------------------------------------------
    def before_request(self, func: Callable[..., Any]) -> None:
        """Dash's (a Quart before_request hook), except for the hooks Dash registers while
        `set_aside()` is active: those are kept for Flash to run itself (see `Flash.enable_pages`).
        Each Quart hook turns off the direct callback path (server/direct.py)."""
        if self._set_aside is not None:
            self._set_aside.append(func)
            return
        super().before_request(func)

    @contextlib.contextmanager
    def set_aside(self) -> Iterator[list[Callable[..., Any]]]:
        """Collect, instead of registering, the before_request hooks Dash adds meanwhile."""
        previous, self._set_aside = self._set_aside, []
        try:
            yield self._set_aside
        finally:
            self._set_aside = previous

    # --- running --------------------------------------------------------------------------
    def run(self, dash_app: Dash, host: str, port: int, debug: bool, **kwargs: Any) -> None:
        use_reloader = kwargs.pop("use_reloader", None)
        if use_reloader is None:
            use_reloader = bool(debug and dash_compat.hot_reload(dash_app))
        self.server.debug = bool(debug)
        # Dash's `ThreadedRunner.stop()` (the `dash_duo` fixture) stops a Quart app by setting this
        # event on the server's loop, as Dash's own Quart backend creates it in `run()`.
        self._ws_shutdown_event = shutdown = asyncio.Event()
        app = as_host(dash_app)
        access_log = access_log_enabled(app.access_log, app.silence_routes_logging)
        run_hypercorn(self.server, host, port, use_reloader=use_reloader, shutdown=shutdown, access_log=access_log, **kwargs)
