"""Client mistakes become 4xx JSON answers; server faults never leak a traceback unless debugging."""

from __future__ import annotations

import json
import logging
from typing import Any

import orjson
from quart import Response
from werkzeug.exceptions import HTTPException

from ..compat.quart import current_request_context

# One line per client error (4xx), escaped: request text can neither flood nor forge the log.
request_logger = logging.getLogger("flash.requests")


class RequestError(Exception):
    """Raised anywhere in a request to answer the client with `status` and a JSON message.

    `message` says what was wrong without quoting the request; `debug` may (it is added to the
    body as "detail" only when the app runs with dev tools / debug on). `details` are extra
    fields of the body, never request content."""

    def __init__(
        self, message: str, status: int = 400, *, debug: str | None = None, headers: dict[str, str] | None = None, **details: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.debug = debug
        self.headers = headers  # e.g. Retry-After on a 503
        self.details = details


def json_error(status: int, message: str, **details: Any) -> Response:
    """The one shape every Flash error body has: {"error": ..., "status": ...}."""
    body = {"error": message, "status": status, **details}
    return Response(orjson.dumps(body), status=status, content_type="application/json")


def request_error_response(err: RequestError, debug: bool = False) -> Response:
    log_client_error(err.status, err.message)
    if debug and err.debug:
        response = json_error(err.status, err.message, **err.details, detail=err.debug)
    else:
        response = json_error(err.status, err.message, **err.details)
    if err.headers:
        response.headers.update(err.headers)
    return response


def escaped(text: Any, limit: int = 300) -> str:
    """`text` as one ASCII line: quotes, control characters, newlines and non-ASCII escaped."""
    text = str(text)
    if len(text) > limit:
        text = text[:limit] + "..."
    return json.dumps(text)


def request_line() -> tuple[str, str]:
    """The method and path of the request being answered, without building a Quart request on
    the direct path (whose deferred context keeps the ASGI scope)."""
    context = current_request_context()
    if context is None:
        return "-", "-"
    scope = getattr(context, "_scope", None)
    if scope is not None and getattr(context, "_request", None) is None:
        return scope.get("method", "-"), scope.get("path", "-")
    req = context.request
    return req.method, req.path


def log_client_error(status: int, message: str) -> None:
    if request_logger.isEnabledFor(logging.INFO):
        method, path = request_line()
        request_logger.info("client error %d on %s %s: %s", status, escaped(method, 20), escaped(path), escaped(message))


def http_error_response(err: HTTPException) -> Response:
    """Werkzeug/Quart HTTP errors (404, 405, 413, ...) as JSON, keeping their headers (Allow)."""
    status = err.code or 500
    message = err.description or err.name
    if status < 500:
        log_client_error(status, message)
    response = json_error(status, message)
    valid_methods = getattr(err, "valid_methods", None)  # set on werkzeug's MethodNotAllowed
    if status == 405 and valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    return response
