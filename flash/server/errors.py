"""Client mistakes become 4xx JSON answers; server faults never leak a traceback unless debugging."""
from __future__ import annotations

from typing import Any

import orjson
from quart import Response
from werkzeug.exceptions import HTTPException


class RequestError(Exception):
    """Raised anywhere in a request to answer the client with `status` and a JSON message."""

    def __init__(self, message: str, status: int = 400, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details


def json_error(status: int, message: str, **details: Any) -> Response:
    """The one shape every Flash error body has: {"error": ..., "status": ...}."""
    body = {"error": message, "status": status, **details}
    return Response(
        orjson.dumps(body), status=status, content_type="application/json"
    )


def request_error_response(err: RequestError) -> Response:
    return json_error(err.status, err.message, **err.details)


def http_error_response(err: HTTPException) -> Response:
    """Werkzeug/Quart HTTP errors (404, 405, 413, ...) as JSON, keeping their headers (Allow)."""
    status = err.code or 500
    message = err.description or err.name
    response = json_error(status, message)
    if status == 405 and getattr(err, "valid_methods", None):
        response.headers["Allow"] = ", ".join(err.valid_methods)
    return response
