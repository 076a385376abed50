"""`WebSocket`: a component that opens and manages one websocket for the page."""

from __future__ import annotations

from typing import Any, Literal

from dash.development.base_component import Component


class WebSocket(Component):
    """A WebSocket component: opens a websocket when it mounts, closes it when it unmounts, and
    reconnects with backoff (0.5 s, doubling to 10 s; back to 0.5 s once a connection has stayed
    open 5 s) after the server dropped, crashed or restarted (any close other than a normal
    1000 closure, which ends the conversation). It renders nothing.

    Messages are JSON both ways. A message `{"__flash_props__": [[id, props], ...]}` (what
    `Socket.send(stream_props(...))` of `websocket_route` sends) is applied to those components
    directly, through Dash's `set_props`, without a callback; every other message becomes
    `message`.

    Keyword arguments:

    - id (string | dict; optional): needed to use its props in callbacks.
    - url (string; optional): a full ``ws://`` or ``wss://`` URL.
    - path (string; optional): used when `url` is not given: a path on this page's origin
      (``ws://`` or ``wss://`` as the page is served); a relative path ("ws/feed") is resolved
      against the app's `requests_pathname_prefix`. Changing `url` or `path` reconnects.
    - send (any JSON value; optional): set it from a callback to send it (JSON-encoded; sent
      once open if the socket is still connecting). The component sets it back to None once
      sent, so the same value can be sent again.
    - message (dict; read-only): the last message received, `{"data": <decoded JSON, or the
      text if it is not JSON>, "at": <milliseconds since the epoch>}`.
    - state (one of "connecting", "open", "closed"; read-only).
    - error (string; read-only): why the last connection closed abnormally (None once open).
    - reconnect (boolean; default True): reconnect after an abnormal close."""

    _children_props: list[str] = []
    _base_nodes = ["children"]
    _namespace = "flash_components"
    _type = "WebSocket"
    _prop_names = ["id", "url", "path", "send", "message", "state", "error", "reconnect"]
    _valid_wildcard_attributes: list[str] = []
    available_properties = _prop_names
    available_wildcard_properties: list[str] = []

    def __init__(
        self,
        id: str | dict[str, Any] | None = None,
        url: str | None = None,
        path: str | None = None,
        send: Any = None,
        message: dict[str, Any] | None = None,
        state: Literal["connecting", "open", "closed"] | None = None,
        error: str | None = None,
        reconnect: bool | None = None,
    ) -> None:
        if url is None and path is None:
            raise TypeError("WebSocket needs url='ws(s)://...' or path='/route/on/this/app'.")
        if url is not None and not url.startswith(("ws://", "wss://")):
            raise ValueError("WebSocket url must start with ws:// or wss:// (use path= for this app).")
        given = {
            "id": id,
            "url": url,
            "path": path,
            "send": send,
            "message": message,
            "state": state,
            "error": error,
            "reconnect": reconnect,
        }
        super().__init__(**{key: value for key, value in given.items() if value is not None})
