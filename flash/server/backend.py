"""Flash's server backend: Dash's Quart backend with Flash's dispatch, errors, suites and runner.

It plugs into Dash through the public backend interface (`dash.backends.base_server`), reusing
Dash's Quart adapters for request/response/websocket handling and owning only what Flash changes.
"""
from __future__ import annotations

import asyncio
import functools
import inspect
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable

from dash.backends._quart import QuartDashServer
from dash.backends._utils import format_traceback_html
from dash.exceptions import InvalidResourceError, PreventUpdate
from quart import Quart, Response, request
from werkzeug.exceptions import HTTPException

from .compression import enable_gzip
from .context import DeferredResponseAdapter
from .devserver import run_hypercorn
from .dispatch import make_dispatch
from .fastpath import install_callback_route
from .errors import (RequestError, escaped, http_error_response, json_error, request_error_response,
                     request_line)
from .suites import serve_component_suite
from .threads import watch_queue

if TYPE_CHECKING:
    from ..app import Flash

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
        self._watched: ThreadPoolExecutor | None = None
        self.response_adapter = DeferredResponseAdapter
        self._dash_app: "Flash | None" = None

    @staticmethod
    def create_app(name: str = "__main__", config: dict[str, Any] | None = None) -> Quart:
        app = Quart(name)
        app.config["MAX_CONTENT_LENGTH"] = DEFAULT_MAX_REQUEST_SIZE
        for key, value in (config or {}).items():
            app.config[key] = value
        return app

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The pool that sync callbacks, layouts and generators run in (Dash's shared executor),
        with its queue watched (see threads.py)."""
        executor = self.get_callback_executor(self.thread_pool_size)
        if executor is not self._watched:
            self._watched = executor
            watch_queue(executor, self.thread_queue_warning, self.thread_pool_size)
        return executor

    # --- routes -------------------------------------------------------------------------
    def add_url_rule(self, rule: str, view_func: Callable[..., Any], endpoint: str | None = None,
                     methods: list[str] | None = None) -> None:
        """Await an `async def` view hidden behind a sync wrapper (e.g. Dash's `hooks.route`)."""
        if not inspect.iscoroutinefunction(view_func) and inspect.iscoroutinefunction(
            inspect.unwrap(view_func)
        ):
            view_func = _awaiting(view_func)
        super().add_url_rule(rule, view_func, endpoint=endpoint, methods=methods)

    def serve_callback(self, dash_app: "Flash") -> Callable[..., Any]:  # type: ignore[override]
        view = make_dispatch(dash_app)
        install_callback_route(dash_app, self.server, view)
        return view

    def setup_component_suites(self, dash_app: "Flash") -> None:  # type: ignore[override]
        async def serve(package_name: str, fingerprinted_path: str) -> Response:
            return serve_component_suite(dash_app, package_name, fingerprinted_path)

        # pylint: disable=protected-access
        dash_app._add_url(
            "_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
            serve,
        )

    def setup_catchall(self, dash_app: "Flash") -> None:  # type: ignore[override]
        """Every other GET path serves the page (client-side routing), as in Dash, except the
        framework's own prefixes: a wrong `_dash-*` or `_flash/` URL is a mistake, not a page."""

        async def catchall(path: str) -> Response:
            if path.startswith(RESERVED_PREFIXES):
                raise RequestError("There is no Flash or Dash endpoint at this path.", status=404,
                                   debug=f"path: /{path[:200]}")
            return Response(dash_app.index(), content_type="text/html")

        # pylint: disable=protected-access
        dash_app._add_url("<path:path>", catchall, methods=["GET"])

    def setup_backend(self, dash_app: "Flash") -> None:  # type: ignore[override]
        self._dash_app = dash_app

    # --- errors ---------------------------------------------------------------------------
    def _is_framework_path(self) -> bool:
        """Flash answers JSON on its own routes; a user's own Quart routes keep Quart's pages."""
        app = self._dash_app
        if app is None:
            return True
        prefix = app.config.routes_pathname_prefix
        path = request.path
        assets = prefix + app.config.assets_url_path.strip("/") + "/"
        if path.startswith((prefix + "_", assets)):
            return True
        # No route at all under the app's prefix (the catch-all takes every page path a browser
        # asks for, so this is a path it cannot even match, e.g. one with a newline).
        return request.url_rule is None and path.startswith(prefix)

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
            return request_error_response(RequestError("Resource not found.", status=404, debug=detail),
                                          self._debugging())

        @server.errorhandler(RequestError)
        async def _request_error(err: RequestError) -> Any:
            return request_error_response(err, self._debugging())

        @server.errorhandler(Exception)
        async def _any_error(err: Exception) -> Any:
            if isinstance(err, HTTPException):
                if err.code == 413:
                    limit = server.config.get("MAX_CONTENT_LENGTH")
                    return request_error_response(RequestError(
                        f"The request body is larger than the {limit}-byte limit "
                        "(set Flash(max_request_size=...) to change it).", status=413))
                return http_error_response(err) if self._is_framework_path() else err
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
    def after_request(self, func: Callable[..., Any]) -> None:
        async def _after(response: Any) -> Any:
            result = func()
            if inspect.isawaitable(result):
                await result
            return response

        self.server.after_request(_after)

    # --- running --------------------------------------------------------------------------
    def run(self, dash_app: "Flash", host: str, port: int, debug: bool, **kwargs: Any) -> None:  # type: ignore[override]
        # pylint: disable=protected-access
        use_reloader = kwargs.pop("use_reloader", None)
        if use_reloader is None:
            use_reloader = bool(debug and dash_app._dev_tools.hot_reload)
        self.server.debug = bool(debug)
        # Dash's `ThreadedRunner.stop()` (the `dash_duo` fixture) stops a Quart app by setting this
        # event on the server's loop, as Dash's own Quart backend creates it in `run()`.
        self._ws_shutdown_event = shutdown = asyncio.Event()
        run_hypercorn(self.server, host, port, use_reloader=use_reloader, shutdown=shutdown, **kwargs)
