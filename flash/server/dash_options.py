"""Dash 4.5's streaming options on `Flash(...)`, on either Dash.

`stream_keepalive_interval` (milliseconds; Dash 4.5's keepalive on an idle stream) sets Flash's
`stream_heartbeat` (seconds) when given: Flash's downlink carries the streams, so its heartbeat is
the one that keeps proxies from closing them. None or 0 (Dash: no keepalive) leaves Flash's
heartbeat as it is: Flash's downlink also uses it to notice a reader that went away.
`stream_poll_interval` is for Dash's WSGI polling downlink; Flash's downlink is one open response
(ASGI), so it is accepted and has no effect. On Dash 4.5 both are handed on to Dash as well (it
stores them); Dash 4.4 does not take them, so there they are only Flash's.
"""

from __future__ import annotations

from typing import Any

DASH45_STREAM_OPTIONS = ("stream_keepalive_interval", "stream_poll_interval")


def take_stream_options(kwargs: dict[str, Any], dash_takes_them: bool) -> float | None:
    """The heartbeat (seconds) `stream_keepalive_interval` asks for, if any; on a Dash that does
    not take these options they are removed from `kwargs`."""
    keepalive = kwargs.get("stream_keepalive_interval")
    if not dash_takes_them:
        for name in DASH45_STREAM_OPTIONS:
            kwargs.pop(name, None)
    if keepalive is None or keepalive == 0:
        return None
    if isinstance(keepalive, bool) or not isinstance(keepalive, (int, float)) or keepalive < 0:
        raise ValueError(f"stream_keepalive_interval takes milliseconds (or None), not {keepalive!r}.")
    return float(keepalive) / 1000.0
