"""Flash's own Dash components, served like any component suite (fingerprinted, cached).

* `WebSocket` opens and manages a websocket (reconnecting with backoff); `websocket_route`
  serves one from `app.server`, pushing JSON messages or `stream_props(...)` updates.
* `LazyLoad` shows a placeholder and fetches its children from an async layout function when it
  scrolls into view; `lazy_loader` registers such a function by name.

The browser side is hand-written JS (no bundler) that defines `window.flash_components`, the
namespace dash-renderer looks components of this suite up in.
"""

from dash.development.base_component import ComponentRegistry

from .._version import __version__
from .lazy import LazyLoad, LazyLoadError, lazy_loader
from .lazy_route import install
from .websocket import WebSocket
from .websocket_route import Socket, SocketClosed, websocket_route

NAMESPACE = "flash.components"  # the package: its files are served from here
JS_NAMESPACE = "flash_components"  # `window.flash_components`: the components' `_namespace`

_js_dist = [
    {"relative_package_path": "flash-websocket.js", "namespace": NAMESPACE},
    {"relative_package_path": "flash-lazy.js", "namespace": NAMESPACE},
]

# Registering the module makes Dash include `_js_dist` in every page and serve it from
# `_dash-component-suites/flash.components/...` with its fingerprint (as flash.client does).
ComponentRegistry.registry.add(__name__)

__all__ = [
    "LazyLoad",
    "LazyLoadError",
    "Socket",
    "SocketClosed",
    "WebSocket",
    "__version__",
    "install",
    "lazy_loader",
    "websocket_route",
]
