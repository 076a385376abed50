"""The multi-page router: page `layout`/`title` may be sync (run in a thread) or `async def`.

Dash's own async router calls sync page layouts on the event loop and cannot validate an async
`app.layout`; Flash registers this router instead, reusing Dash's page registry and path matching.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from dash import Input, Output, _pages, _validate, html
from dash._pages import _parse_query_string, _path_to_page
from dash.dash import _ID_CONTENT, _ID_DUMMY, _ID_LOCATION, _ID_STORE

from dash.exceptions import UnsupportedRelativePath

from .errors import RequestError
from .layout import call_layout, resolve_layout

if TYPE_CHECKING:
    from ..app import Flash

_TITLE_SCRIPT = "function(data) { document.title = data.title; }"


def _not_found_page(app: "Flash") -> tuple[Any, Any]:
    for module, page in _pages.PAGE_REGISTRY.items():
        if module.split(".")[-1] == "not_found_404":
            return page["layout"], page["title"]
    return html.H1("404 - Page not found"), app.title


async def render_page(app: "Flash", pathname: str | None, search: str | None,
                      states: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    # The browser sends strings (or null); anything else, or a path outside the app, is a 400.
    if not isinstance(pathname, (str, type(None))) or not isinstance(search, (str, type(None))):
        raise RequestError("The page location must be a string path and query.")
    try:
        page, path_variables = _path_to_page(None if pathname is None else app.strip_relative_path(pathname))
    except UnsupportedRelativePath:
        raise RequestError("The page path is outside the app's path prefix.") from None
    if page == {}:
        layout, title = _not_found_page(app)
    else:
        layout, title = page.get("layout", ""), page["title"]
    variables = path_variables or {}
    layout = await call_layout(app, layout, **{**variables, **_parse_query_string(search), **states})
    title = await call_layout(app, title, **variables)
    return layout, {"title": title}


async def _validation_layout(app: "Flash") -> Any:
    pages = list(_pages.PAGE_REGISTRY.values())
    layouts = await asyncio.gather(*(call_layout(app, p["layout"]) for p in pages))
    main = await resolve_layout(app)
    validation = html.Div(list(layouts) + (main if isinstance(main, list) else [main]))
    if _ID_CONTENT not in validation:
        raise Exception("`dash.page_container` not found in the layout")
    return validation


def install_router(app: "Flash") -> None:
    """Register the router callback once, on the first request (as Dash does)."""
    lock = asyncio.Lock()
    # pylint: disable=protected-access

    async def setup_router() -> None:
        if app._got_first_request["pages"]:
            return
        async with lock:
            if app._got_first_request["pages"]:
                return
            inputs = {
                "pathname_": Input(_ID_LOCATION, "pathname"),
                "search_": Input(_ID_LOCATION, "search"),
                **app.routing_callback_inputs,
            }

            async def route(pathname_: str, search_: str, **states: Any) -> tuple[Any, dict[str, Any]]:
                return await render_page(app, pathname_, search_, states)

            # Called, not applied as `@`: `Flash.callback` is typed `-> Any`, which would make
            # `route` untyped for mypy.
            app.callback(
                Output(_ID_CONTENT, "children"),
                Output(_ID_STORE, "data"),
                inputs=inputs,
                prevent_initial_call=True,
                hidden=True,
            )(route)

            app.clientside_callback(
                _TITLE_SCRIPT,
                Output(_ID_DUMMY, "children"),
                Input(_ID_STORE, "data"),
                hidden=True,
            )
            # Marked done before Dash's registry checks, as Dash does: a bad registry fails this
            # first request once (a 500 naming the problem), and the router keeps serving after.
            # Duplicate paths are checked last so the validation layout is still built.
            app._got_first_request["pages"] = True
            _validate.validate_registry(_pages.PAGE_REGISTRY)
            if not app.config.suppress_callback_exceptions:
                app.validation_layout = await _validation_layout(app)
            _validate.check_for_duplicate_pathnames(_pages.PAGE_REGISTRY)

    app.backend.before_request(setup_router)
