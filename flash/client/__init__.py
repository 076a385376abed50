"""Flash's browser side, served like any Dash component suite (fingerprinted, cached).

Hand-written scripts, no bundler: each file is one part, and Dash loads them into the page in
the order of `_js_dist` (a part uses what the ones before it set up)."""

from dash.development.base_component import ComponentRegistry

from .._version import __version__ as __version__  # Dash fingerprints the suite with it

NAMESPACE = "flash.client"
WIRE = "flash-wire.js"  # SSE reading and JSON posts, used by the hub (loaded before it)
# The downlink hub: a SharedWorker script, or loaded into the page. In a worker it sees none of
# the page's scripts: its URL names WORKER_IMPORTS, which it loads in order (wiring.hub_url).
HUB = "flash-hub.js"
HUB_PARTS = ("flash-hub-runs.js", "flash-hub-start.js", "flash-hub-downlink.js")
WORKER_IMPORTS = (WIRE, *HUB_PARTS)
# The page side: applying updates per frame, the runs and their line to the hub, Dash's entry points.
STREAM = ("flash-stream-frames.js", "flash-stream-link.js", "flash-stream.js")
DEVTOOLS = "flash-devtools.js"  # the dev tools' Streams panel: inert unless the page's dev tools UI is on

_js_dist = [{"relative_package_path": name, "namespace": NAMESPACE} for name in (*WORKER_IMPORTS, HUB, *STREAM, DEVTOOLS)]

# Registering the module makes Dash include `_js_dist` in every page and serve it from
# `_dash-component-suites/flash.client/...` with its fingerprint.
ComponentRegistry.registry.add(__name__)
