"""Component-suite files are served by Dash's Quart backend (`serve_component_suites`); Flash adds
a path check before it and turns its errors into 4xx JSON answers that do not quote the request.

Dash answers an unknown package or file with a 500 whose text lists every registered path, and a
missing module with a KeyError; to a client those are 404s, and the message must not echo
the request (the debug detail does, with dev tools on).
"""

from __future__ import annotations

from typing import Any, Mapping

from dash.exceptions import DependencyException

from .errors import RequestError

# What Dash's `serve_component_suites` raises for a request it cannot serve.
SUITE_ERRORS = (DependencyException, KeyError, OSError)

ONE_YEAR = "public, max-age=31536000, immutable"


def check_relative_path(path: str) -> None:
    parts = path.replace("\\", "/").split("/")
    if path.startswith(("/", "\\")) or any(p in ("..", "") for p in parts) or "\x00" in path:
        raise RequestError(
            "Invalid component-suite path: it must be a relative path inside the package.",
            status=400,
            debug=f"path: {path[:200]!r}",
        )


def suite_error(err: Exception, registered: Mapping[str, Any], package_name: str, fingerprinted_path: str) -> RequestError:
    """The 404 for what Dash's `serve_component_suites` raised (an unregistered package or path,
    a module or file that cannot be read)."""
    detail = f"{fingerprinted_path[:200]!r} of {package_name[:200]!r}: {type(err).__name__}"
    if package_name not in registered:
        return RequestError("Unknown component package.", status=404, debug=detail)
    if not isinstance(err, DependencyException):  # registered, but not importable or readable
        return RequestError("The resource could not be read.", status=404, debug=detail)
    return RequestError("The path is not a registered resource of the package.", status=404, debug=detail)
