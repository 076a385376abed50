"""Quart's request machinery, deferred: contexts that build the request on first access, and
body reading with Quart's limits. Used by the direct ASGI path (`direct.py`)."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any, Iterable, Mapping
from urllib.parse import urlparse

from hypercorn.typing import ASGIReceiveCallable, HTTPScope
from quart import Quart
from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestEntityTooLarge, RequestTimeout

from ..compat.quart import AppContext, RequestContext


class ClientGone(Exception):
    """The client disconnected before its request body arrived; there is no one to answer."""


class DeferredAppContext(AppContext):
    """`current_app` without the URL adapter and `g` built up front."""

    def __init__(self, app: Quart) -> None:
        self.app = app
        self._cv_tokens = []
        self._g: Any = None
        self._url_adapter: Any = False

    @property
    def g(self) -> Any:
        if self._g is None:
            self._g = self.app.app_ctx_globals_class()
        return self._g

    @g.setter
    def g(self, value: Any) -> None:
        self._g = value

    @property
    def url_adapter(self) -> Any:
        if self._url_adapter is False:
            self._url_adapter = self.app.create_url_adapter(None)
        return self._url_adapter

    @url_adapter.setter  # writable, as the attribute it replaces
    def url_adapter(self, value: Any) -> None:
        self._url_adapter = value


class DeferredRequestContext(RequestContext):
    """A request context whose `request` (headers, body, routing) is built on first access."""

    def __init__(self, app: Quart, scope: HTTPScope, body: bytes) -> None:
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

    @property
    def request_websocket(self) -> Any:
        if self._request is None:
            self._request = build_request(self.app, self._scope, self._body)
            self._request.routing_exception = None
            self._request.json_module = self.app.json
            self.match_request()
        return self._request

    @request_websocket.setter
    def request_websocket(self, value: Any) -> None:
        self._request = value

    @property
    def url_adapter(self) -> Any:
        if self._url_adapter is False:
            self._url_adapter = self.app.create_url_adapter(self.request_websocket)
        return self._url_adapter

    @url_adapter.setter
    def url_adapter(self, value: Any) -> None:
        self._url_adapter = value

    @property
    def session(self) -> Any:
        if self._session is None:  # only used without a secret key: Quart's read-only null session
            self._session = self.app.session_interface.null_session_class()
        return self._session

    @session.setter
    def session(self, value: Any) -> None:
        self._session = value


def request_path(scope: Mapping[str, Any]) -> str:
    """The path Quart would route on (the scope's path without its root_path)."""
    path: str = scope["path"]
    if not path.startswith("/"):
        path = urlparse(path).path
    root_path = scope.get("root_path", "")
    if root_path:
        if path == root_path or not path.startswith(root_path):
            return " "
        path = path[len(root_path) :]
    return path


def build_request(app: Quart, scope: HTTPScope, body: bytes) -> Any:
    """The `quart.Request` Quart would have built for this scope, with its body already complete."""
    headers = Headers()
    headers["Remote-Addr"] = (scope.get("client") or ["<local>"])[0]
    for name, value in scope["headers"]:
        headers.add(name.decode("latin1").title(), value.decode("latin1"))
    if scope["http_version"] < "1.1":
        headers.setdefault("Host", app.config["SERVER_NAME"] or "")
    request = app.request_class(
        scope["method"],
        scope["scheme"],
        request_path(scope),
        scope["query_string"],
        headers,
        scope.get("root_path", ""),
        scope["http_version"],
        max_content_length=app.config["MAX_CONTENT_LENGTH"],
        body_timeout=app.config["BODY_TIMEOUT"],
        send_push_promise=_no_push_promise,
        scope=scope,
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


class BodyDeadlines:
    """Body-read deadlines of every request in flight on one loop, watched by a single timer.

    `asyncio.timeout` per request costs more than the rest of a trivial callback's direct path,
    and every cancelled timer keeps its request's context (and everything the callback touched)
    alive until asyncio purges it. Here a read costs a dict insert and delete; the one timer is
    due at the earliest deadline and cancels the tasks whose reads are overdue."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._reads: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0  # when the timer fires

    def watch(self, task: asyncio.Task[Any], timeout: float) -> None:
        deadline = self.loop.time() + timeout
        self._reads[task] = deadline
        if self._timer is None or deadline < self._due:
            self._arm(deadline)

    def unwatch(self, task: asyncio.Task[Any]) -> bool:
        """Stop watching `task`; True if its deadline had passed (its cancel was ours)."""
        self._reads.pop(task, None)
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._due = when
        self._timer = self.loop.call_at(when, self._sweep, context=_EMPTY_CONTEXT)

    def _sweep(self) -> None:
        self._timer = None
        now = self.loop.time()
        for task, deadline in list(self._reads.items()):
            if deadline <= now:
                del self._reads[task]
                self._expired.add(task)
                task.cancel()
        if self._reads:
            self._arm(min(self._reads.values()))


_EMPTY_CONTEXT = contextvars.Context()
_current: BodyDeadlines | None = None


def body_deadlines() -> BodyDeadlines:
    """The running loop's deadlines (a server process has one loop; a new loop gets a new set,
    while reads in flight keep the set they started with)."""
    global _current
    loop = asyncio.get_running_loop()
    deadlines = _current
    if deadlines is None or deadlines.loop is not loop:
        deadlines = _current = BodyDeadlines(loop)
    return deadlines


async def read_body(scope: HTTPScope, receive: ASGIReceiveCallable, limit: int | None, timeout: float | None) -> bytes:
    """The whole request body, refusing more than `limit` bytes (as Quart does, with a 413)
    and a body still incomplete after `timeout` seconds (a 408)."""
    declared = _declared_length(scope["headers"])
    if limit is not None and declared is not None and declared > limit:
        raise RequestEntityTooLarge()
    task = asyncio.current_task()
    if timeout is None or task is None:
        return await _receive_body(receive, limit)
    deadlines = body_deadlines()
    deadlines.watch(task, timeout)
    try:
        return await _receive_body(receive, limit)
    except asyncio.CancelledError:
        if deadlines.unwatch(task) and task.uncancel() == 0:
            raise RequestTimeout() from None
        raise
    finally:  # every way out (a 413, a vanished client, ...) stops the watch
        deadlines.unwatch(task)


async def _receive_body(receive: ASGIReceiveCallable, limit: int | None) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        if message["type"] != "http.request":  # nothing else arrives on an HTTP connection
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            raise RequestEntityTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
