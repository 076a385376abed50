"""Flash's browser side, served like any Dash component suite (fingerprinted, cached)."""
from dash.development.base_component import ComponentRegistry

from .._version import __version__

_js_dist = [
    {
        "relative_package_path": "flash-stream.js",
        "namespace": "flash.client",
    }
]

# Registering the module makes Dash include `_js_dist` in every page and serve it from
# `_dash-component-suites/flash.client/...` with its fingerprint.
ComponentRegistry.registry.add(__name__)
