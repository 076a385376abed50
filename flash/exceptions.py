"""Dash's exceptions under Flash's name, so `from flash.exceptions import PreventUpdate` works."""

from dash.exceptions import *  # noqa: F401,F403
from dash.exceptions import DashException, PreventUpdate  # noqa: F401


class StreamError(DashException):
    """Raised for a misuse of `event_callback` / `stream_props` at decoration or yield time."""
