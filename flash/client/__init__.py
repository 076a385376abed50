"""Flash's browser side, served like any Dash component suite (fingerprinted, cached)."""
from dash.development.base_component import ComponentRegistry

from .._version import __version__

NAMESPACE = "flash.client"
HUB = "flash-hub.js"  # the downlink hub: a SharedWorker script, or loaded into the page
WIRE = "flash-wire.js"  # SSE reading and JSON posts, used by the hub (loaded before it)

_js_dist = [
    {"relative_package_path": WIRE, "namespace": NAMESPACE},
    {"relative_package_path": HUB, "namespace": NAMESPACE},
    {"relative_package_path": "flash-stream.js", "namespace": NAMESPACE},
]

# Registering the module makes Dash include `_js_dist` in every page and serve it from
# `_dash-component-suites/flash.client/...` with its fingerprint.
ComponentRegistry.registry.add(__name__)
