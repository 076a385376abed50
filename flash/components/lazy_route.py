"""`POST <prefix>_flash/lazy/<name>`: call a registered lazy loader, answer its layout as JSON.

The route (and LazyContent's clientside callback) reach every app through Dash's public hooks,
registered when this module is imported: an app created after `import flash.components` has
them, `install(app)` adds them to one created before. Flash's backend awaits the async view that
`hooks.route` wraps (server/backend.py). Bad input gets a 4xx JSON error that quotes nothing of the request. A loader raising
`LazyLoadError` is answered 200 `{"error": message}` (its message is meant for the page); any
other exception is a 500 with a generic message (and the exception in debug mode); PreventUpdate
is a 204 (the page keeps what it shows).
"""

from __future__ import annotations

import logging
from typing import Any, cast

import orjson
from dash import MATCH, ClientsideFunction, Input, Output, get_app, hooks
from dash.exceptions import PreventUpdate
from quart import Response, request

from ..layout import call_layout
from ..server.body import parse_json_body, read_request_body
from ..server.errors import RequestError, json_error
from ..server.guard import check_request_headers
from ..server.jsonfast import dumps
from ..server.limits import DEFAULT_MAX_JSON_DEPTH
from .lazy import CONTENT_TYPE, LOADERS, MAX_ARGS_BYTES, LazyLoadError, check_arguments

ROUTE = "_flash/lazy/<name>"
# LazyContent.layout -> LazyContent.children, in the browser (`dash_clientside.flash_lazy.content`
# in flash-lazy.js): a callback output is where dash-renderer registers a new layout's ids and runs
# its initial callbacks; `set_props` does only the first.
CONTENT_CALLBACK = (
    ClientsideFunction("flash_lazy", "content"),
    Output({"type": CONTENT_TYPE, "lazy": MATCH}, "children"),
    Input({"type": CONTENT_TYPE, "lazy": MATCH}, "layout"),
)
logger = logging.getLogger("flash.components")


def _debugging(app: Any) -> bool:
    return getattr(app.backend, "error_handling_mode", "ignore") != "ignore"


async def _read_args(app: Any) -> dict[str, Any]:
    if (request.content_length or 0) > MAX_ARGS_BYTES + 1024:
        raise RequestError(f"A lazy-load request is at most {MAX_ARGS_BYTES} bytes.", status=413)
    data = await read_request_body()
    if len(data) > MAX_ARGS_BYTES + 1024:
        raise RequestError(f"A lazy-load request is at most {MAX_ARGS_BYTES} bytes.", status=413)
    limits = getattr(app, "limits", None)
    depth = limits.max_json_depth if limits is not None else DEFAULT_MAX_JSON_DEPTH
    body = parse_json_body(data, "lazy-load request body", max_depth=min(depth, 32))
    if not isinstance(body, dict) or set(body) - {"args"}:
        raise RequestError('The lazy-load request body must be a JSON object {"args": {...}}.')
    args = body.get("args", {})
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise RequestError("'args' must be a JSON object of keyword arguments.")
    return args


async def lazy_view(name: str) -> Response:
    """The hook's view: Dash's `hooks.route` makes the app `get_app()` while it runs."""
    return await serve_lazy(get_app(), name)


async def serve_lazy(app: Any, name: str) -> Response:
    """Answer `{"layout": ...}`: the loader's return value under Dash's JSON rules."""
    limits = getattr(app, "limits", None)
    if limits is not None:
        check_request_headers(limits, request.headers)
    loader = LOADERS.get(name)
    if loader is None:
        raise RequestError("There is no lazy loader of this name.", status=404, debug=f"name: {name[:200]!r}")
    args = await _read_args(app)
    try:
        check_arguments(loader, args)
    except TypeError:
        raise RequestError("The arguments do not match the loader's parameters.") from None
    try:
        layout = await call_layout(app, loader, **args)
    except PreventUpdate:
        return Response("", status=204)
    except LazyLoadError as err:  # the loader's own answer, not a fault: no 5xx in the console
        message = str(err)[:500] or "The content could not be loaded."
        return Response(orjson.dumps({"error": message}), content_type="application/json", headers={"Cache-Control": "no-store"})
    except Exception as err:  # any loader fault: shown in place
        logger.exception("lazy loader %s failed", name)
        if _debugging(app):
            return json_error(500, "The lazy loader failed.", detail=f"{type(err).__name__}: {err}"[:500])
        return json_error(500, "The lazy loader failed.")
    try:
        body = dumps({"layout": layout})
    except Exception:
        logger.exception("lazy loader %s returned something that is not a layout", name)
        return json_error(500, "The lazy loader returned something that is not a layout.")
    return Response(body, content_type="application/json", headers={"Cache-Control": "no-store"})


def install(app: Any) -> None:
    """Add LazyLoad's route and clientside callback to an app created before
    `flash.components` was imported (later apps get them from Dash's hooks)."""
    if not any(CONTENT_TYPE in key for key in app.callback_map):
        app.clientside_callback(*CONTENT_CALLBACK, prevent_initial_call=True)
    rule = app.config.routes_pathname_prefix + ROUTE
    if rule in getattr(app, "routes", ()):
        return

    async def view(name: str) -> Response:
        return await serve_lazy(app, name)

    app.server.add_url_rule(rule, view_func=view, endpoint=rule, methods=["POST"])
    app.routes.append(rule)


hooks.route(name=ROUTE, methods=("POST",))(cast(Any, lazy_view))
hooks.clientside_callback(*CONTENT_CALLBACK, prevent_initial_call=True)
