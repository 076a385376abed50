"""Flash: an async-first, drop-in Plotly Dash on Quart that streams UI updates.

Every public name of `dash` is importable from here with the same meaning; `Flash` (also exported
as `Dash`) serves the app on Quart, and `event_callback`/`stream_props` stream updates over SSE.
Dash 4.5's shared storage names (`LocalSharedStorage`, ...) come from `flash.storage`.
"""

import sys as _sys

import dash as _dash
from dash import (  # noqa: F401
    ALL,
    ALLSMALLER,
    MATCH,
    CeleryManager,
    ClientsideFunction,
    DiskcacheManager,
    Input,
    NoUpdate,
    Output,
    Patch,
    State,
    backends,
    background_callback,
    callback_context,
    clientside_callback,
    ctx,
    dash_table,
    dcc,
    development,
    fingerprint,
    get_app,
    get_asset_url,
    get_relative_path,
    hooks,
    html,
    jupyter_dash,
    no_update,
    page_container,
    page_registry,
    register_page,
    resources,
    set_props,
    stringify_id,
    strip_relative_path,
    types,
    version,
)

from . import dependencies, exceptions  # noqa: F401
from ._version import __version__
from .app import Flash
from .channels import Channel, ChannelSubscription, publish, subscribe
from .storage import (
    BaseSharedStorage,
    DiskcacheSharedStorage,
    LocalSharedStorage,
    RedisSharedStorage,
    SharedStorageError,
    SharedStorageGap,
    Subscription,
)
from .streaming import callback, event_callback, stream_props

Dash = Flash
dash_version = _dash.__version__

# `import flash.html` / `from flash.dcc import Graph` resolve to Dash's component modules.
for _name in ("html", "dcc", "dash_table", "development", "resources"):
    _sys.modules.setdefault(f"{__name__}.{_name}", getattr(_dash, _name))

__all__ = [
    "Flash",
    "Dash",
    "event_callback",
    "stream_props",
    "Channel",
    "ChannelSubscription",
    "publish",
    "subscribe",
    "LocalSharedStorage",
    "DiskcacheSharedStorage",
    "RedisSharedStorage",
    "BaseSharedStorage",
    "SharedStorageError",
    "SharedStorageGap",
    "Subscription",
    "Input",
    "Output",
    "State",
    "clientside_callback",
    "ClientsideFunction",
    "MATCH",
    "ALLSMALLER",
    "ALL",
    "development",
    "exceptions",
    "dependencies",
    "dcc",
    "html",
    "dash_table",
    "resources",
    "__version__",
    "dash_version",
    "callback_context",
    "set_props",
    "callback",
    "get_app",
    "get_asset_url",
    "get_relative_path",
    "strip_relative_path",
    "CeleryManager",
    "DiskcacheManager",
    "register_page",
    "page_registry",
    "no_update",
    "NoUpdate",
    "page_container",
    "Patch",
    "jupyter_dash",
    "ctx",
    "hooks",
    "stringify_id",
    "backends",
    "background_callback",
    "fingerprint",
    "types",
    "version",
]

# Dash 4.5's `remount` (force a component a callback returns to mount afresh); absent on Dash 4.4.
if hasattr(_dash, "remount"):
    remount = getattr(_dash, "remount")
    __all__ += ["remount"]
