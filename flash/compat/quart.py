"""Every private Quart name Flash uses (Quart 0.20-0.22), each with why; `NEEDED` lists them all.

The direct ASGI path (`server/direct.py`) answers hot routes without Quart's per-request
machinery, yet `quart.request`, `current_app`, `g` and error handlers still work: it sets Quart's
context variables itself, to placeholder contexts (`server/deferred.py`) that subclass Quart's
context classes without running their constructors (which build the request, URL adapter and
`g` up front). So the placeholders must set every attribute Quart's constructors set:
`REQUEST_CONTEXT_ATTRS` / `APP_CONTEXT_ATTRS` name them, and `tests/unit/test_compat.py` compares
them with what the installed Quart's constructors really set.
"""

from __future__ import annotations

from typing import Any

# Quart's context classes, subclassed by the direct path's deferred placeholders.
from quart.ctx import AppContext, RequestContext

# The context variables behind `current_app`/`g` and `request`: the direct path sets them without
# pushing contexts; the error log and the lazy callback context read the request context.
from quart.globals import _cv_app as app_context_var
from quart.globals import _cv_request as request_context_var
from quart.typing import AfterRequestCallable

from . import Private

# Attributes Quart's constructors set, which the deferred placeholders provide (as attributes or
# lazily built properties). A Quart that sets another one fails tests/unit/test_compat.py.
APP_CONTEXT_ATTRS = frozenset({"app", "url_adapter", "g", "_cv_tokens"})
REQUEST_CONTEXT_ATTRS = frozenset(
    {
        "app",
        "request_websocket",
        "url_adapter",
        "session",
        "preserved",
        "_cv_tokens",
        "flashes",
        "_after_request_functions",
    }
)

NEEDED: tuple[Private, ...] = (
    Private("quart.globals", "_cv_app", "the direct path makes current_app/g work without pushing a context"),
    Private(
        "quart.globals",
        "_cv_request",
        "the direct path makes quart.request work; errors.py and server/context.py read the request context",
    ),
    Private("quart.ctx:RequestContext", "_cv_tokens", "set by the deferred request context", instance=True),
    Private(
        "quart.ctx:RequestContext", "_after_request_functions", "after_this_request functions the direct path runs", instance=True
    ),
    Private("quart.ctx:RequestContext", "match_request", "the deferred request context routes on first use"),
    Private("quart.ctx:RequestContext", "request_websocket", "the deferred request context builds it lazily", instance=True),
    Private("quart.ctx:AppContext", "_cv_tokens", "set by the deferred app context", instance=True),
)


def current_request_context() -> Any:
    """The request context of the request being answered (None outside one)."""
    return request_context_var.get(None)


def after_request_functions(context: Any) -> list[AfterRequestCallable]:
    """The `after_this_request` functions registered on a request context, to run in order."""
    functions: list[AfterRequestCallable] = context._after_request_functions
    return functions


__all__ = [
    "APP_CONTEXT_ATTRS",
    "AppContext",
    "NEEDED",
    "REQUEST_CONTEXT_ATTRS",
    "RequestContext",
    "after_request_functions",
    "app_context_var",
    "current_request_context",
    "request_context_var",
]
