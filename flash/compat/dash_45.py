"""Dash 4.5's additions as Flash meets them on either Dash (split from `compat.dash`, which
re-exports every name here): what Flash reads of them on Dash 4.5 (a streaming callback's
`on_error=`, Dash's MCP server), and on Dash 4.4 the clear error their keywords give.

No private Dash module is imported here. The private attributes reached (`_enable_mcp`,
`_mcp_path`) are listed in `compat.dash.NEEDED`; the closure reads are checked against the
installed Dash by tests/unit/test_compat.py (stream_on_error) and tests/unit/test_mcp_server.py
(mcp_message_handler).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import dash


# --- a Dash 4.5 streaming `dash.callback` (taken over by Flash: streaming/declare/adopt.py) -------------
def stream_on_error(wrapper: Any) -> Callable[[Exception], Any] | None:
    """The `on_error=` a Dash 4.5 streaming callback was declared with. `dash.callback` keeps it
    only in the closure of the wrapper it registers (no public way to read it); Flash needs it
    when it takes such a callback over (streaming/declare/adopt.py). `tests/unit/test_compat.py` checks
    that Dash still keeps it there."""
    code = getattr(wrapper, "__code__", None)
    if code is None or "on_error" not in code.co_freevars or wrapper.__closure__ is None:
        return None
    handler: Callable[[Exception], Any] | None = wrapper.__closure__[code.co_freevars.index("on_error")].cell_contents
    return handler


# --- Dash's MCP server (`Dash(enable_mcp=True)`; served by Flash: server/mcp.py) -------------------
def mcp_url(app: Any) -> str | None:
    """The URL rule of Dash's MCP server on this app, None when it is off (or failed to start:
    Dash then turns `_enable_mcp` off and logs why)."""
    if not getattr(app, "_enable_mcp", False):
        return None
    return f"{app.config.routes_pathname_prefix}{app._mcp_path}"


def mcp_message_handler(view: Any) -> Callable[[Any], Any] | None:
    """Dash's MCP request handler (the parsed JSON-RPC body in, a response out), read from the
    closure of the POST view Dash registers for it: Dash's view awaits the body and then runs
    every tool call and resource read on the event loop; Flash reads the body itself and runs
    this handler in its thread pool. None if Dash no longer keeps it there (test_compat checks)."""
    view = getattr(view, "__wrapped__", view)
    code = getattr(view, "__code__", None)
    name = "_handle_mcp_request"
    if code is None or name not in code.co_freevars or view.__closure__ is None:
        return None
    handler: Callable[[Any], Any] = view.__closure__[code.co_freevars.index(name)].cell_contents
    return handler


# --- Dash 4.5 keywords on Dash 4.4: a clear error instead of "unexpected keyword argument" ------
DASH_VERSION: str = dash.__version__


def needs_dash45(feature: str) -> TypeError:
    """The error a Dash 4.5 feature gives on an older Dash."""
    return TypeError(
        f"{feature} needs Dash 4.5 or newer; the installed Dash is {DASH_VERSION}. "
        "Upgrade it: pip install 'dash>=4.5' (Flash supports dash>=4.4.1,<4.6)."
    )


def refuse_dash45_keywords() -> list[str]:
    """On a Dash without them, make `Input/Output/State(..., partial_pattern=True)` and
    `ctx.websocket.get_prop(..., path=[...])` raise `needs_dash45` (the default values, False and
    None/[], are accepted: they ask for nothing new). Dash's own classes get the keyword, because
    users import them from `dash` as often as from `flash`. Returns what was changed (nothing on
    Dash 4.5); idempotent."""
    from dash.backends.ws import DashWebsocketCallback

    changed: list[str] = []
    for cls in (dash.Input, dash.Output, dash.State):
        init = cls.__init__
        if "partial_pattern" in inspect.signature(init).parameters or getattr(init, "__flash_refuses__", False):
            continue
        cls.__init__ = _refusing_init(init, f"{cls.__name__}(..., partial_pattern=True)")  # type: ignore[method-assign]
        changed.append(f"{cls.__name__}.__init__")
    get_prop = DashWebsocketCallback.get_prop
    if "path" not in inspect.signature(get_prop).parameters and not getattr(get_prop, "__flash_refuses__", False):
        DashWebsocketCallback.get_prop = _refusing_get_prop(get_prop)  # type: ignore[method-assign]
        changed.append("DashWebsocketCallback.get_prop")
    return changed


def _refusing_init(init: Callable[..., None], feature: str) -> Callable[..., None]:
    @functools.wraps(init)
    def __init__(self: Any, *args: Any, partial_pattern: bool = False, **kwargs: Any) -> None:
        if partial_pattern:
            raise needs_dash45(feature)
        init(self, *args, **kwargs)

    __init__.__flash_refuses__ = True  # type: ignore[attr-defined]
    return __init__


def _refusing_get_prop(get_prop: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(get_prop)
    async def wrapped(
        self: Any, component_id: Any, prop_name: str, timeout: float = 30.0, *, path: list[str | int] | None = None
    ) -> Any:
        if path:
            raise needs_dash45("ctx.websocket.get_prop(..., path=[...])")
        return await get_prop(self, component_id, prop_name, timeout)

    wrapped.__flash_refuses__ = True  # type: ignore[attr-defined]
    return wrapped


__all__ = ["DASH_VERSION", "mcp_message_handler", "mcp_url", "needs_dash45", "refuse_dash45_keywords", "stream_on_error"]
