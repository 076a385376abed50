"""Serve component-suite files (Dash's and Flash's client) without ever leaving the package."""
from __future__ import annotations

import mimetypes
import pkgutil
import sys
from typing import TYPE_CHECKING

from dash.fingerprint import check_fingerprint
from quart import Response

from .errors import RequestError

if TYPE_CHECKING:
    from ..app import Flash

ONE_YEAR = "public, max-age=31536000, immutable"


def _check_relative_path(path: str) -> None:
    parts = path.replace("\\", "/").split("/")
    if path.startswith(("/", "\\")) or any(p in ("..", "") for p in parts) or "\x00" in path:
        raise RequestError(
            f"Invalid component-suite path '{path}': it must be a relative path inside the package.",
            status=400,
        )


def serve_component_suite(app: "Flash", package_name: str, fingerprinted_path: str) -> Response:
    _check_relative_path(fingerprinted_path)
    path_in_pkg, has_fingerprint = check_fingerprint(fingerprinted_path)
    registered = app.registered_paths.get(package_name)
    if registered is None:
        raise RequestError(
            f"Unknown component package '{package_name}'.", status=404
        )
    if path_in_pkg not in registered:
        raise RequestError(
            f"'{path_in_pkg}' is not a registered resource of '{package_name}'.",
            status=404,
        )
    package = sys.modules.get(package_name)
    data = pkgutil.get_data(package_name, path_in_pkg) if package else None
    if data is None:
        raise RequestError(
            f"'{path_in_pkg}' of '{package_name}' could not be read.", status=404
        )
    extension = "." + path_in_pkg.rsplit(".", 1)[-1]
    mimetype = mimetypes.types_map.get(extension, "application/octet-stream")
    headers = {"Cache-Control": ONE_YEAR} if has_fingerprint else {}
    return Response(data, content_type=mimetype, headers=headers)
