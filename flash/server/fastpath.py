"""A direct ASGI path for callback requests, in front of Quart.

Most of a trivial callback's time in Quart goes to machinery the callback never sees: building
the request and its headers, binding a URL adapter, pushing app and request contexts, two tasks
per request and a response-timeout task. When the app has registered nothing that would notice
the difference (no request hooks, signals, sessions or a replaced view), Flash answers
`POST …/_dash-update-component` here instead. `quart.request`, `current_app`, `g`, `ctx` and
error handlers still work: the contexts are installed as cheap placeholders that build the real
request or URL adapter the first time anything asks for them.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable
from urllib.parse import urlparse

from quart import Quart, Response, signals
from quart.ctx import AppContext, RequestContext
from quart.globals import _cv_app, _cv_request
from quart.sessions import SecureCookieSessionInterface
from quart.utils import encode_headers
from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestEntityTooLarge, RequestTimeout

from .context import CallbackAnswer
from .dispatch import run_callback

if TYPE_CHECKING:
    from ..app import Flash

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]

# Signals Quart sends around every request: any receiver means the direct path must not be used.
_REQUEST_SIGNALS = (
    signals.request_started, signals.request_finished, signals.request_tearing_down,
    signals.got_request_exception, signals.appcontext_pushed, signals.appcontext_popped,
    signals.appcontext_tearing_down,
)


class ClientGone(Exception):
    """The client disconnected before its request body arrived; there is no one to answer."""


class DeferredAppContext(AppContext):
    """`current_app` without the URL adapter and `g` built up front."""

    def __init__(self, app: Quart) -> None:  # pylint: disable=super-init-not-called
        self.app = app
        self._cv_tokens = []
        self._g: Any = None
        self._url_adapter: Any = False

    @property  # type: ignore[override]
    def g(self) -> Any:
        if self._g is None:
            self._g = self.app.app_ctx_globals_class()
        return self._g

    @g.setter
    def g(self, value: Any) -> None:
        self._g = value

    @property  # type: ignore[override]
    def url_adapter(self) -> Any:
        if self._url_adapter is False:
            self._url_adapter = self.app.create_url_adapter(None)
        return self._url_adapter


class DeferredRequestContext(RequestContext):
    """A request context whose `request` (headers, body, routing) is built on first access."""

    def __init__(self, app: Quart, scope: dict, body: bytes) -> None:  # pylint: disable=super-init-not-called
        self.app = app
        self._scope = scope
        self._body = body
        self._request: Any = None
        self._url_adapter: Any = False
        self._session: Any = None
        self.preserved = False
        self.flashes = None
        self._cv_tokens = []
        self._after_request_functions = []

    @property  # type: ignore[override]
    def request_websocket(self) -> Any:
        if self._request is None:
            self._request = build_request(self.app, self._scope, self._body)
            self._request.routing_exception = None
            self._request.json_module = self.app.json
            self.match_request()
        return self._request

    @property  # type: ignore[override]
    def url_adapter(self) -> Any:
        if self._url_adapter is False:
            self._url_adapter = self.app.create_url_adapter(self.request_websocket)
        return self._url_adapter

    @property  # type: ignore[override]
    def session(self) -> Any:
        if self._session is None:  # only used without a secret key: Quart's read-only null session
            self._session = self.app.session_interface.null_session_class()
        return self._session

    @session.setter
    def session(self, value: Any) -> None:
        self._session = value


def request_path(scope: dict) -> str:
    """The path Quart would route on (the scope's path without its root_path)."""
    path = scope["path"]
    if not path.startswith("/"):
        path = urlparse(path).path
    root_path = scope.get("root_path", "")
    if root_path:
        if path == root_path or not path.startswith(root_path):
            return " "
        path = path[len(root_path):]
    return path


def build_request(app: Quart, scope: dict, body: bytes) -> Any:
    """The `quart.Request` Quart would have built for this scope, with its body already complete."""
    headers = Headers()
    headers["Remote-Addr"] = (scope.get("client") or ["<local>"])[0]
    for name, value in scope["headers"]:
        headers.add(name.decode("latin1").title(), value.decode("latin1"))
    if scope["http_version"] < "1.1":
        headers.setdefault("Host", app.config["SERVER_NAME"] or "")
    request = app.request_class(
        scope["method"], scope["scheme"], request_path(scope), scope["query_string"], headers,
        scope.get("root_path", ""), scope["http_version"],
        max_content_length=app.config["MAX_CONTENT_LENGTH"], body_timeout=app.config["BODY_TIMEOUT"],
        send_push_promise=_no_push_promise, scope=scope,
    )
    request.body.append(body)
    request.body.set_complete()
    return request


async def _no_push_promise(path: str, headers: Headers) -> None:
    """HTTP/2 server push is gone from browsers; Quart's own default ignores it too."""


def _declared_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def read_body(scope: dict, receive: Callable[[], Awaitable[dict]], limit: int | None,
                    timeout: float | None) -> bytes:
    """The whole request body, refusing more than `limit` bytes (as Quart does, with a 413)."""
    declared = _declared_length(scope["headers"])
    if limit is not None and declared is not None and declared > limit:
        raise RequestEntityTooLarge()
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone()
                chunk = message.get("body", b"")
                size += len(chunk)
                if limit is not None and size > limit:
                    raise RequestEntityTooLarge()
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise RequestTimeout() from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class FastCallbackPath:
    """ASGI middleware installed as `server.asgi_app`; everything it does not take goes to Quart."""

    def __init__(self, dash_app: "Flash", server: Quart, view: Callable[..., Any], inner: ASGIApp) -> None:
        self.dash_app = dash_app
        self.server = server
        self.view = view
        self.inner = inner
        self.path = dash_app.config.routes_pathname_prefix + "_dash-update-component"
        self.endpoint = self.path

    def applies(self) -> bool:
        """Whether nothing registered on the server would see the direct path differ from Quart's."""
        server = self.server
        # pylint: disable=protected-access
        if not self.dash_app._got_first_request["setup_server"]:
            return False  # the first requests run Dash's setup hook through Quart
        before = server.before_request_funcs.get(None, ())
        if len(before) > 1 or (before and before[0] != self.dash_app._setup_server):
            return False
        if (server.after_request_funcs.get(None) or server.teardown_request_funcs.get(None)
                or server.url_value_preprocessors.get(None) or server.teardown_appcontext_funcs):
            return False
        if server.secret_key is not None or type(server.session_interface) is not SecureCookieSessionInterface:
            return False
        if server.config["SERVER_NAME"] is not None or server.url_map.host_matching:
            return False
        if server.view_functions.get(self.endpoint) is not self.view:
            return False
        return not any(signal.receivers for signal in _REQUEST_SIGNALS)

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        if (scope["type"] != "http" or scope["method"] != "POST" or request_path(scope) != self.path
                or not self.applies()):
            await self.inner(scope, receive, send)
            return
        server = self.server
        app_token = _cv_app.set(DeferredAppContext(server))
        context = DeferredRequestContext(server, scope, b"")
        request_token = _cv_request.set(context)
        try:
            try:
                context._body = await read_body(  # pylint: disable=protected-access
                    scope, receive, server.config["MAX_CONTENT_LENGTH"], server.config["BODY_TIMEOUT"])
                response = await run_callback(self.dash_app, context._body)  # pylint: disable=protected-access
            except ClientGone:
                return
            except Exception as err:  # pylint: disable=broad-except
                response = await self._error_response(err)
            after_functions = context._after_request_functions  # pylint: disable=protected-access
            if isinstance(response, CallbackAnswer):
                if not after_functions:
                    await send_answer(send, response.body)
                    return
                response = response.to_response()
            for after in after_functions:
                response = await server.ensure_async(after)(response)
            await send_response(send, response)
        finally:
            _cv_request.reset(request_token)
            _cv_app.reset(app_token)

    async def _error_response(self, err: Exception) -> Response:
        """What Quart's error handling (Flash's JSON handlers, or the user's) makes of `err`."""
        server = self.server
        try:
            result = await server.handle_user_exception(err)
        except Exception as unhandled:  # pylint: disable=broad-except
            try:
                return await server.handle_exception(unhandled)
            except Exception:  # pylint: disable=broad-except  # propagating config: answer anyway
                server.logger.exception("Exception on %s [POST]", self.path)
                return Response('{"error": "Internal server error.", "status": 500}', status=500,
                                content_type="application/json")
        return await server.make_response(result)


async def send_answer(send: Callable[[dict], Awaitable[None]], body: bytes) -> None:
    """A callback's JSON with the headers Quart would have sent for it."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_response(send: Callable[[dict], Awaitable[None]], response: Response) -> None:
    body = await response.get_data()
    await send({"type": "http.response.start", "status": response.status_code,
                "headers": encode_headers(response.headers)})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def install_fast_path(dash_app: "Flash", server: Quart, view: Callable[..., Any]) -> None:
    """Put the direct path in front of `server`'s ASGI app (once per server)."""
    current = server.asgi_app
    if isinstance(current, FastCallbackPath):
        current.dash_app, current.view = dash_app, view
        current.path = current.endpoint = dash_app.config.routes_pathname_prefix + "_dash-update-component"
        return
    server.asgi_app = FastCallbackPath(dash_app, server, view, current)  # type: ignore[method-assign]
