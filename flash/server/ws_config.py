"""Leave Dash's websocket out of pages that have no websocket callback, and Dash 4.5's stream
transport out of every page (Flash's carries the streams).

Dash's renderer opens a websocket to `_dash-ws-callback` (through a SharedWorker) whenever the
page config names one, and Dash's Quart backend always names it, for `websocket=True` callbacks
that may exist. A page without any keeps one idle connection per tab open for nothing (and
through proxies that do not pass websockets, a failing one). Flash names the websocket only when
the app has `websocket_callbacks=True` or a callback declared with `websocket=True`.
"""

from __future__ import annotations

from typing import Any, Mapping


def uses_websocket(config: Mapping[str, Any], callback_map: Mapping[str, Mapping[str, Any]]) -> bool:
    websocket = config.get("websocket") or {}
    return bool(websocket.get("enabled")) or any(spec.get("websocket") for spec in callback_map.values())


def page_config(config: dict[str, Any], callback_map: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Dash's page config without its websocket entry when nothing would use it, and with Dash
    4.5's stream transport off (see `STREAM_OFF`)."""
    if "websocket" in config and not uses_websocket(config, callback_map):
        del config["websocket"]
    if "stream" in config:
        config["stream"] = dict(STREAM_OFF)
    return config


# Dash 4.5's renderer streams a callback its spec marks `stream` over its own downlink (hosted in
# `dash-stream-worker.js`, a SharedWorker) when the page config says `stream.enabled`, which Dash
# sets whenever the app has shared storage. Under Flash no callback spec is marked `stream`:
# Flash's `callback` takes every generator as a stream of its own (`flash/streaming/`), carried by
# Flash's downlink. So the renderer is told that Dash's transport is off, and no worker script is
# named: nothing of Dash's stream client, worker or downlink starts on a Flash page.
STREAM_OFF = {"enabled": False}
