"""`app.shared_storage` and `ctx.shared_storage` (Dash 4.5 names) on Dash 4.4's callback context.

Why a property on the class of `dash.ctx`: Dash 4.5 code reads `ctx.shared_storage` from the very
`dash.ctx` object (`flash.ctx is dash.ctx`), so the name must live on its class. It is added only
when Dash does not have it (a Dash that ships it keeps its own). Flash's callback and event
callback contexts carry their app (`attach`), so two apps in one process each see their own
storage; elsewhere the current app (`dash.get_app()`) answers.
"""

from __future__ import annotations

from typing import Any

import dash

from ..compat.dash import (
    add_context_property,
    context_value,  # the current callback's context (a private Dash name)
    set_current_app,
)
from .base import BaseSharedStorage, SharedStorageError

_APP_ATTR = "_flash_app"


def storage_of(app: Any) -> BaseSharedStorage:
    """The app's backend, started on first use; `SharedStorageError` if it has none."""
    backend: BaseSharedStorage | None = getattr(app, "_shared_storage_backend", None)
    if backend is None:
        raise SharedStorageError(
            "shared storage is off: pass Flash(shared_storage=LocalSharedStorage()) (or a redis:// URL), "
            "or set DASH_SHARED_STORAGE / FLASH_SHARED_STORAGE"
        )
    return backend


def attach(cb_ctx: Any, app: Any) -> Any:
    """Remember which app a callback context belongs to (not a dict entry: not sent anywhere),
    and make it `dash.get_app()` for the rest of this request's task (and the stream tasks it
    starts): Dash 4.5's own `ctx.shared_storage` is `get_app().shared_storage`."""
    object.__setattr__(cb_ctx, _APP_ATTR, app)
    set_current_app(app)
    return cb_ctx


def _ctx_shared_storage(_self: Any) -> BaseSharedStorage:
    app = getattr(context_value.get(None), _APP_ATTR, None)
    return storage_of(app if app is not None else dash.get_app())


def install() -> None:
    """Give `dash.ctx` a `shared_storage` property (once; only where Dash has none)."""
    add_context_property(
        "shared_storage", property(_ctx_shared_storage, doc="The app's shared storage (Dash 4.5's ctx.shared_storage).")
    )
