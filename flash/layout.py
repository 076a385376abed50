"""Resolve `app.layout` whether it is a component, a sync function or an `async def`.

Dash's `get_layout()` is sync; for an `async def` layout, `layout_now` runs it to completion
from sync code: from a thread (a sync callback, a script, a test) on the loop that serves the app
when it is running (so the layout's async clients stay on their loop, and the caller's contextvars
come along), else on a loop of its own. On the event loop itself nothing sync may wait: it says so.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from typing import TYPE_CHECKING, Any, Coroutine

from dash import html

from .compat.dash import extra_components, layout_hooks, layout_source, set_current_app
from .server.threads import call_maybe_async

if TYPE_CHECKING:
    from .app import Flash

# Set while Dash's own first-request setup runs (it validates `_layout_value()`).
DASH_SETUP: contextvars.ContextVar[bool] = contextvars.ContextVar("flash_dash_setup", default=False)


def is_async_callable(value: Any) -> bool:
    return inspect.iscoroutinefunction(value) or inspect.iscoroutinefunction(getattr(value, "__call__", None))


async def call_layout(app: "Flash", layout: Any, **kwargs: Any) -> Any:
    """Call a layout (or page layout/title) function where it belongs; return values as is."""
    if not callable(layout):
        return layout
    set_current_app(app)
    return await call_maybe_async(app.backend.executor, layout, **kwargs)


async def layout_value(app: "Flash") -> Any:
    """Dash's `_layout_value()`, awaited: the layout plus the app's extra components."""
    layout = await call_layout(app, layout_source(app))
    extra = extra_components(app)
    if extra:
        layout = html.Div(children=[layout] + extra)
    return layout


async def resolve_layout(app: "Flash") -> Any:
    """What Dash's `get_layout()` returns: `layout_value` with the layout hooks applied."""
    layout = await layout_value(app)
    for hook in layout_hooks(app):
        layout = hook(layout)
    return layout


def layout_now(app: "Flash", coro: Coroutine[Any, Any, Any]) -> Any:
    """Run `coro` (a layout being resolved) to completion from sync code."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coro.close()
        name = getattr(layout_source(app), "__name__", "layout")
        raise RuntimeError(
            f"app.get_layout() cannot wait for the async layout '{name}' here: it was called on the "
            "event loop, where sync code must not block. In async code use "
            "`await app.get_layout_async()`; get_layout() works from sync callbacks, threads and scripts."
        )
    loop = app.serving_loop
    if loop is not None and loop.is_running():
        # The caller's contextvars travel with it (`call_soon_threadsafe` copies them).
        return asyncio.run_coroutine_threadsafe(coro, loop).result()
    return asyncio.run(coro)
