"""`Flash(compress=True)`: gzip for buffered text responses; streams are never buffered.

Dash's Quart backend relies on quart_compress, whose last release predates current Quart; this
is a small after-request hook instead.
"""

from __future__ import annotations

import gzip
from typing import Any

from quart import Quart, Response, request
from quart.wrappers.response import DataBody

COMPRESSIBLE = ("text/html", "text/css", "application/json", "application/javascript", "text/javascript", "image/svg+xml")
MIN_SIZE = 500


def is_gzip_hook(func: Any) -> bool:
    """Whether `func` is the hook below (the page cache gzips its answers itself, once)."""
    return getattr(func, "flash_gzip", False) is True


def enable_gzip(server: Quart, level: int = 6) -> None:
    @server.after_request
    async def _gzip(response: Response) -> Response:
        if (
            "gzip" not in request.headers.get("Accept-Encoding", "").lower()
            or response.status_code < 200
            or response.status_code >= 300
            or "Content-Encoding" in response.headers
            or not (response.mimetype or "").startswith(COMPRESSIBLE)
            or not isinstance(response.response, DataBody)  # files and streams pass through
        ):
            return response
        data = await response.get_data(as_text=False)
        if len(data) < MIN_SIZE:
            return response
        response.set_data(gzip.compress(data, compresslevel=level))
        response.headers["Content-Encoding"] = "gzip"
        response.vary.add("Accept-Encoding")
        return response

    _gzip.flash_gzip = True  # type: ignore[attr-defined]
