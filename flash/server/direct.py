"""A direct ASGI path for Flash's hot routes, in front of Quart.

Most of a trivial callback's time in Quart goes to machinery the callback never sees: building
the request and its headers, binding a URL adapter, pushing app and request contexts, two tasks
per request and a response-timeout task; an open stream holds all of that for its whole life.
When the app has registered nothing that would notice the difference (no request hooks,
signals, sessions or a replaced view), Flash answers `POST …/_dash-update-component` and
`POST …/_flash/stream/<id>` here instead, and the page GETs (`/`, `_dash-layout`,
`_dash-dependencies`) whose answer the page cache holds (`page_cache.py`). `quart.request`, `current_app`, `g`, `ctx` and error
handlers still work: the contexts are placeholders that build the real request or URL adapter
the first time anything asks for them (`deferred.py`). The header checks (JSON only, Origin:
`guard.py`) run here before the body is read; Quart's views run the same checks themselves.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, HTTPScope, Scope
from quart import Quart, Response, signals
from quart.sessions import SecureCookieSessionInterface
from quart.typing import ResponseTypes
from quart.utils import encode_headers

from ..compat.quart import after_request_functions, app_context_var, request_context_var
from .body import decode_body, header
from .compression import is_gzip_hook
from .context import CallbackAnswer
from .deferred import ClientGone, DeferredAppContext, DeferredRequestContext, read_body, request_path
from .dispatch import run_callback
from .guard import check_scope_headers
from .page_cache import cached_view, direct_answer

if TYPE_CHECKING:
    from .host import ServerHost

# Quart's own ASGI types (hypercorn's), so that DirectPath can stand in for `Quart.asgi_app`.
Receive = ASGIReceiveCallable
Send = ASGISendCallable
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# A direct handler gets the whole body and the path's last segment (for prefix routes); it
# returns what to send, or None once it has answered by itself (a stream).
Handler = Callable[[bytes, str, Receive, Send], Awaitable["Response | CallbackAnswer | None"]]

# Signals Quart sends around every request: any receiver means the direct path must not be used.
_REQUEST_SIGNALS = (
    signals.request_started,
    signals.request_finished,
    signals.request_tearing_down,
    signals.got_request_exception,
    signals.appcontext_pushed,
    signals.appcontext_popped,
    signals.appcontext_tearing_down,
)


class DirectRoute:
    """One POST route the direct path may take: `path` (or, with `prefix`, `path` + one segment).
    `read`: how its body is read, when not as Quart would (a stream start has its own limit)."""

    __slots__ = ("path", "endpoint", "view", "handler", "prefix", "read")

    def __init__(
        self,
        path: str,
        endpoint: str,
        view: Callable[..., Any],
        handler: Handler,
        prefix: bool,
        read: Callable[[HTTPScope, Receive], Awaitable[bytes]] | None = None,
    ) -> None:
        self.path, self.endpoint, self.view, self.handler, self.prefix = path, endpoint, view, handler, prefix
        self.read = read

    def match(self, path: str) -> str | None:
        if not self.prefix:
            return "" if path == self.path else None
        if path.startswith(self.path):
            tail = path[len(self.path) :]
            if tail and "/" not in tail:
                return tail
        return None


def direct_path_option(value: bool | None) -> bool:
    """`Flash(direct_path=...)`, else env ``FLASH_DIRECT_PATH`` (``0``/``false``/``off``: off), else on."""
    if value is None:
        env = os.environ.get("FLASH_DIRECT_PATH", "").strip().lower()
        if env and env not in _ON + _OFF:
            raise ValueError(f"FLASH_DIRECT_PATH takes 1/true/on or 0/false/off, not {env!r}.")
        return env not in _OFF
    if value not in (True, False):
        raise TypeError(f"direct_path takes True, False or None, not {value!r}.")
    return bool(value)


_ON = ("1", "true", "on", "yes")
_OFF = ("0", "false", "off", "no")


class DirectPath:
    """ASGI middleware installed as `server.asgi_app`; everything it does not take goes to Quart.
    `enabled` False (``Flash(direct_path=False)``): everything goes to Quart."""

    def __init__(self, dash_app: "ServerHost", server: Quart, inner: ASGIApp) -> None:
        self.dash_app = dash_app
        self.server = server
        self.inner = inner
        self.enabled = dash_app.direct_path_enabled
        self.routes: dict[str, DirectRoute] = {}
        self.pages: dict[str, tuple[str, Callable[..., Any], str]] = {}  # path -> endpoint, view, cache slot

    def add(self, name: str, route: DirectRoute) -> None:
        self.routes[name] = route

    def add_page(self, path: str, endpoint: str, view: Callable[..., Any], slot: str) -> None:
        """A GET served from the page cache (page_cache.py) when it holds the answer."""
        self.pages[path] = (endpoint, view, slot)

    def applies(self, route: DirectRoute | None, endpoint: str = "", view: Any = None, gzip_done: bool = False) -> bool:
        """Whether nothing registered on the server would see the direct path differ from Quart's
        (for a cached page, `gzip_done`: Flash's own gzip hook, which the cache does itself, is allowed)."""
        server = self.server
        if not self.enabled:
            return False
        if route is not None:
            endpoint, view = route.endpoint, route.view
        if not self.dash_app.setup_done:
            return False  # until Dash's (and the pages router's) setup has finished, Quart runs it
        before = server.before_request_funcs.get(None, ())
        if len(before) > 1 or (before and before[0] != self.dash_app.setup_hook):
            return False
        after = server.after_request_funcs.get(None, ())
        if after and not (gzip_done and all(is_gzip_hook(func) for func in after)):
            return False
        if (
            server.teardown_request_funcs.get(None)
            or server.url_value_preprocessors.get(None)
            or server.teardown_appcontext_funcs
        ):
            return False
        if server.secret_key is not None or type(server.session_interface) is not SecureCookieSessionInterface:
            return False
        if server.config["SERVER_NAME"] is not None or server.url_map.host_matching:
            return False
        if server.view_functions.get(endpoint) is not view:
            return False
        return not any(signal.receivers for signal in _REQUEST_SIGNALS)

    async def _page(self, scope: HTTPScope, send: Send) -> bool:
        """Answer a page GET from the cache; False if it is not the direct path's to answer."""
        found = self.pages.get(request_path(scope))
        if found is None or scope.get("query_string") or not self.applies(None, found[0], found[1], gzip_done=True):
            return False
        answer = direct_answer(self.dash_app, found[2], scope["headers"])
        if answer is None:
            return False  # not cached yet (or not cacheable): Quart makes it
        status, headers, body = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
        return True

    def _find(self, scope: HTTPScope) -> tuple[DirectRoute, str] | None:
        if scope["method"] != "POST":
            return None
        path = request_path(scope)
        for route in self.routes.values():
            tail = route.match(path)
            if tail is not None:
                return (route, tail) if self.applies(route) else None
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and self.pages and await self._page(scope, send):
            return
        if scope["type"] != "http" or (found := self._find(scope)) is None:
            await self.inner(scope, receive, send)
            return
        route, tail = found
        server = self.server
        app_token = app_context_var.set(DeferredAppContext(server))
        context = DeferredRequestContext(server, scope, b"")
        request_token = request_context_var.set(context)
        response: ResponseTypes | CallbackAnswer | None
        try:
            try:
                check_scope_headers(self.dash_app.limits, scope["headers"])
                limit = server.config["MAX_CONTENT_LENGTH"]
                body = await (
                    route.read(scope, receive)
                    if route.read is not None
                    else read_body(scope, receive, limit, server.config["BODY_TIMEOUT"])
                )
                context._body = decode_body(body, header(scope["headers"], b"content-encoding"), limit)
                response = await route.handler(context._body, tail, receive, send)
            except ClientGone:
                return
            except Exception as err:
                response = await self._error_response(err, route)
            if response is None:
                return
            after_functions = after_request_functions(context)
            if isinstance(response, CallbackAnswer):
                if not after_functions:
                    await send_answer(send, response.body)
                    return
                response = response.to_response()
            for after in after_functions:
                # Quart's own process_response needs the same ignore: ensure_async's overloads
                # cannot resolve the sync-or-async union that AfterRequestCallable is.
                response = await server.ensure_async(after)(response)  # type: ignore[assignment]
            await send_response(send, response)
        finally:
            request_context_var.reset(request_token)
            app_context_var.reset(app_token)

    async def _error_response(self, err: Exception, route: DirectRoute) -> ResponseTypes:
        """What Quart's error handling (Flash's JSON handlers, or the user's) makes of `err`."""
        server = self.server
        try:
            result = await server.handle_user_exception(err)
        except Exception as unhandled:
            try:
                return await server.handle_exception(unhandled)
            except Exception:  # propagating config: answer anyway
                server.logger.exception("Exception on %s [POST]", route.path)
                return Response('{"error": "Internal server error.", "status": 500}', status=500, content_type="application/json")
        return await server.make_response(result)


async def send_answer(send: Send, body: bytes) -> None:
    """A callback's JSON with the headers Quart would have sent for it."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_response(send: Send, response: ResponseTypes) -> None:
    if isinstance(response, Response):
        body = await response.get_data(as_text=False)
    else:  # a Werkzeug response, which a user's error handler may return (Quart sends those too)
        body = b"".join(response.iter_encoded())
    await send({"type": "http.response.start", "status": response.status_code, "headers": encode_headers(response.headers)})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def direct_path(dash_app: "ServerHost", server: Quart) -> DirectPath:
    """The direct path in front of `server`'s ASGI app, installed once per server."""
    current = server.asgi_app
    if isinstance(current, DirectPath):
        current.dash_app = dash_app
        current.enabled = dash_app.direct_path_enabled
        return current
    path = DirectPath(dash_app, server, current)
    server.asgi_app = path  # type: ignore[method-assign]
    return path


def install_callback_route(dash_app: "ServerHost", server: Quart, view: Callable[..., Any]) -> None:
    endpoint = dash_app.config.routes_pathname_prefix + "_dash-update-component"

    async def answer(data: bytes, _tail: str, _receive: Receive, _send: Send) -> Any:
        return await run_callback(dash_app, data)

    direct_path(dash_app, server).add("callback", DirectRoute(endpoint, endpoint, view, answer, prefix=False))


# The page routes whose answers the page cache keeps: the route's name under the prefix, its slot.
PAGE_ROUTES = (("", "index"), ("_dash-layout", "layout"), ("_dash-dependencies", "dependencies"))


def install_page_routes(dash_app: "ServerHost", server: Quart) -> None:
    """Put the page cache in front of the page routes' views (Dash's and Flash's, registered by
    then) and let the direct path answer them from it."""
    prefix = dash_app.config.routes_pathname_prefix
    path = direct_path(dash_app, server)
    for name, slot in PAGE_ROUTES:
        endpoint = prefix + name
        view = server.view_functions.get(endpoint)
        if view is None:
            continue
        cached = cached_view(dash_app, slot, view)
        server.view_functions[endpoint] = cached
        path.add_page(endpoint, endpoint, cached, slot)
