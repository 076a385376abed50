"""A request context for work Flash does outside any HTTP request.

Rendering the index once at startup (so every script it names is registered) and running a
streaming job in a Celery worker both run Dash code that reads `flask.request`-style state
(`quart.request`, `url_for`, the routes prefix). Quart's `test_request_context` would build one,
but it is a test helper; this builds the same thing from Quart's public pieces: its
`request_class` and `request_context`, an empty body, and the server's own name for the host.
"""

from __future__ import annotations

from typing import Any

from quart import Quart
from werkzeug.datastructures import Headers


async def _no_push(_path: str, _headers: Headers) -> None:
    """HTTP/2 server push has nothing to do for an internal request."""


def internal_request_context(server: Quart, path: str, method: str = "GET") -> Any:
    """`async with internal_request_context(server, "/"):` runs code as if in a request to `path`
    (Quart's RequestContext; typed Any: its class lives in a module Flash reaches only via compat)."""
    host = server.config.get("SERVER_NAME") or "localhost"
    headers = Headers({"host": host})
    scope: Any = {
        "type": "http",
        "asgi": {"spec_version": "2.1"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", host.encode())],
        "client": None,
        "server": None,
        "extensions": {},
    }
    request = server.request_class(method, "http", path, b"", headers, "", "1.1", scope, send_push_promise=_no_push)
    request.body.set_result(b"")
    return server.request_context(request)
