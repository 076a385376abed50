"""Dash's dependency classes under Flash's name (`from flash.dependencies import Input`)."""

from dash.dependencies import *  # noqa: F401,F403
from dash.dependencies import (  # noqa: F401
    ALL,
    ALLSMALLER,
    MATCH,
    ClientsideFunction,
    Input,
    Output,
    State,
)
