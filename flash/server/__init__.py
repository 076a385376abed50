"""The Quart/ASGI layer: backend, callback dispatch, errors, component suites, dev server."""

from .backend import FlashServer
from .errors import RequestError, json_error

__all__ = ["FlashServer", "RequestError", "json_error"]
