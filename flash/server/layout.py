"""Resolve `app.layout` whether it is a component, a sync function or an `async def`."""
from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from dash import html
from dash._get_app import app_context

from .threads import call_maybe_async

if TYPE_CHECKING:
    from ..app import Flash


def is_async_callable(value: Any) -> bool:
    return inspect.iscoroutinefunction(value) or inspect.iscoroutinefunction(
        getattr(value, "__call__", None)
    )


async def call_layout(app: "Flash", layout: Any, **kwargs: Any) -> Any:
    """Call a layout (or page layout/title) function where it belongs; return values as is."""
    if not callable(layout):
        return layout
    app_context.set(app)
    return await call_maybe_async(app.backend.executor, layout, **kwargs)


async def resolve_layout(app: "Flash") -> Any:
    # pylint: disable=protected-access
    layout = await call_layout(app, app._layout)
    if app._extra_components:
        layout = html.Div(children=[layout] + app._extra_components)
    for hook in app._hooks.get_hooks("layout"):
        layout = hook(layout)
    return layout
