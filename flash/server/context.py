"""Dash's per-callback context, built by Dash, with request details read only when asked for.

Dash's `_initialize_context` copies every header and cookie of every callback request into the
context up front; most callbacks never look at them. Flash runs Dash's own `_initialize_context`
with a request adapter that skips those copies (`DeferredRequestAdapter`, chosen by the backend
only while Flash builds a context), then fills `headers`, `cookies`, `args`, `path`, `remote` and
`origin` on first access, through Dash's Quart adapter, so with the values Dash would give.
Likewise the Quart Response behind `ctx.response` is made only when a cookie or header is set.
"""

from __future__ import annotations

import contextvars
from typing import Any, Callable

from quart import Response

from ..compat.dash import AttributeDict, QuartRequestAdapter, QuartResponseAdapter
from ..compat.quart import request_context_var

# The context entries Dash fills from the request, and the adapter property each one reads.
_READERS: dict[str, Callable[[QuartRequestAdapter], Any]] = {
    "cookies": lambda a: dict(a.cookies),
    "headers": lambda a: dict(a.headers),
    "args": lambda a: a.args,
    "path": lambda a: a.full_path,
    "remote": lambda a: a.remote_addr,
    "origin": lambda a: a.origin,
}
DEFERRING: contextvars.ContextVar[bool] = contextvars.ContextVar("flash_deferring_request", default=False)


class DeferredRequestAdapter(QuartRequestAdapter):
    """Dash's Quart request adapter minus the request details a callback context defers."""

    cookies: Any = property(lambda self: {})
    headers: Any = property(lambda self: {})
    args: Any = property(lambda self: None)
    full_path: Any = property(lambda self: None)
    remote_addr: Any = property(lambda self: None)
    origin: Any = property(lambda self: None)


class _StoredRequestAdapter(QuartRequestAdapter):
    """Dash's adapter over a stored request context's request (read after the request, e.g.
    from a stream generator, or on the direct path where the request is built on demand)."""

    def __init__(self, request_context: Any) -> None:
        self._context = request_context

    @property
    def request(self) -> Any:
        return self._context.request


class CallbackContext(AttributeDict):
    def __missing__(self, key: str) -> Any:
        reader = _READERS.get(key)
        if reader is None:
            raise KeyError(key)
        value = reader(_StoredRequestAdapter(self.__dict__["_request_context"]))
        dict.__setitem__(self, key, value)
        return value


def build_callback_context(dash_initialize: Callable[[Any], Any], body: dict[str, Any], eager: bool) -> CallbackContext:
    """Dash's callback context for `body` (`dash_initialize` is Dash's `_initialize_context`),
    with the request details deferred unless `eager` (a background job's copy needs them all)."""
    if eager:
        context = dash_initialize(body)
    else:
        token = DEFERRING.set(True)
        try:
            context = dash_initialize(body)
        finally:
            DEFERRING.reset(token)
        for key in _READERS:
            dict.pop(context, key, None)
    lazy = CallbackContext(context)  # Dash's entries, in the class that reads request ones lazily
    # The request context, not the request: on Flash's direct path the request is built on demand.
    object.__setattr__(lazy, "_request_context", request_context_var.get())
    return lazy


class DeferredResponseAdapter(QuartResponseAdapter):
    """`ctx.response` without a Quart Response until a cookie or header asks for one.

    Most callbacks set neither; their answer is just the JSON bytes (see `CallbackAnswer`).
    The base adapter's `_headers`/`_cookies` dicts are not made: Quart's adapter never uses them."""

    def __init__(self) -> None:
        self._made: Response | None = None

    @property
    def _quart_response(self) -> Response:
        if self._made is None:
            self._made = Response(content_type="application/json")
        return self._made

    @_quart_response.setter
    def _quart_response(self, value: Response) -> None:
        self._made = value

    def set_response(self, **kwargs: Any) -> Response | CallbackAnswer:
        data = kwargs.get("data", "")
        if self._made is None:
            return CallbackAnswer(data.encode() if isinstance(data, str) else data)
        self._made.set_data(data)
        return self._made


class CallbackAnswer:
    """A callback's JSON answer with Flash's default headers only; `to_response()` for Quart."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body

    def to_response(self) -> Response:
        return Response(self.body, content_type="application/json")
