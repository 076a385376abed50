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
        raise RequestError("Invalid component-suite path: it must be a relative path inside the package.",
                           status=400, debug=f"path: {path[:200]!r}")


def serve_component_suite(app: "Flash", package_name: str, fingerprinted_path: str) -> Response:
    _check_relative_path(fingerprinted_path)
    path_in_pkg, has_fingerprint = check_fingerprint(fingerprinted_path)
    registered = app.registered_paths.get(package_name)
    if registered is None:
        raise RequestError("Unknown component package.", status=404, debug=f"package: {package_name[:200]!r}")
    if path_in_pkg not in registered:
        raise RequestError("The path is not a registered resource of the package.", status=404,
                           debug=f"{path_in_pkg[:200]!r} of {package_name!r}")
    package = sys.modules.get(package_name)
    data = pkgutil.get_data(package_name, path_in_pkg) if package else None
    if data is None:
        raise RequestError("The resource could not be read.", status=404,
                           debug=f"{path_in_pkg[:200]!r} of {package_name!r}")
    extension = "." + path_in_pkg.rsplit(".", 1)[-1]
    mimetype = mimetypes.types_map.get(extension, "application/octet-stream")
    headers = {"Cache-Control": ONE_YEAR} if has_fingerprint else {}
    return Response(data, content_type=mimetype, headers=headers)
