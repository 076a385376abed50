"""Cheap checks every callback and stream POST passes before its body is read or parsed.

- Only ``application/json`` (optionally ``; charset=utf-8``) is accepted (415 otherwise): a
  browser sends ``text/plain``, form and multipart bodies cross-site without a CORS preflight,
  so refusing them stops other sites from running callbacks or starting streams.
- With ``Flash(allowed_origins=[...])``, a request carrying an ``Origin`` header must come from
  the same origin (its host equals Host, or X-Forwarded-Host behind a proxy) or a listed one (403).
- Request JSON may nest at most ``max_json_depth`` deep (400), checked without recursion, so
  nothing later (Dash's helpers, ``json.dumps``, the user's code) can hit Python's recursion limit.
"""

from __future__ import annotations

from typing import Any, Iterable

from .errors import RequestError
from .limits import Limits, normalize_origin

_JSON_TYPES = frozenset({"application/json", "application/json;charset=utf-8"})


def check_content_type(value: str | None) -> None:
    if value is None or value.replace(" ", "").lower() not in _JSON_TYPES:
        raise RequestError("This endpoint accepts only 'Content-Type: application/json' request bodies.", status=415)


def check_origin(limits: Limits, origin: str | None, host: str | None, forwarded_host: str | None) -> None:
    allowed = limits.allowed_origins
    if allowed is None or origin is None:
        return
    given = normalize_origin(origin)
    if given in allowed:
        return
    target = (forwarded_host.split(",")[0] if forwarded_host else host or "").strip().lower()
    scheme, _, netloc = given.partition("://")
    if target and netloc:
        default = {"http": ":80", "https": ":443"}.get(scheme)
        if default and target.endswith(default):
            target = target[: -len(default)]
        if netloc == target:
            return
    raise RequestError("Cross-origin request refused: its Origin is not allowed (see Flash(allowed_origins=...)).", status=403)


def check_scope_headers(limits: Limits, headers: Iterable[tuple[bytes, bytes]]) -> None:
    """The checks above on an ASGI scope's headers (the direct path): one pass, no Request."""
    content_type = origin = host = forwarded = None
    for name, value in headers:
        if name == b"content-type":
            content_type = value.decode("latin1")
        elif name == b"origin":
            origin = value.decode("latin1")
        elif name == b"host":
            host = value.decode("latin1")
        elif name == b"x-forwarded-host":
            forwarded = value.decode("latin1")
    check_content_type(content_type)
    if limits.allowed_origins is not None:
        check_origin(limits, origin, host, forwarded)


def check_request_headers(limits: Limits, headers: Any) -> None:
    """The checks above on a Quart request's headers (the Quart path)."""
    check_content_type(headers.get("Content-Type"))
    if limits.allowed_origins is not None:
        check_origin(limits, headers.get("Origin"), headers.get("Host"), headers.get("X-Forwarded-Host"))


def check_depth(value: Any, data: bytes, max_depth: int) -> None:
    """Refuse JSON nested deeper than `max_depth` (the top level is depth 1). A body with
    fewer brackets than that cannot be too deep; anything else is walked with a stack."""
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return
    if type(value) is not dict and type(value) is not list:
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        children = item.values() if type(item) is dict else item
        for child in children:
            kind = type(child)
            if kind is dict or kind is list:
                if depth >= max_depth:
                    raise RequestError(f"The request JSON is nested more than {max_depth} levels deep.")
                push((child, depth + 1))
