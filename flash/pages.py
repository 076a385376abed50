"""The multi-page router: page `layout`/`title` may be sync (run in a thread) or `async def`.

Dash's `enable_pages` runs as is (it imports the pages folder); the router it builds is set aside
(`Flash.enable_pages`) and this one registered instead, on the first request, by `_setup_server`.
The differences are why it exists, and all it owns: Dash's `router_async` calls sync page
layouts and titles on the event loop, blocking every other request while they run, and builds the
validation layout by calling `app.layout()`, which for an `async def` layout is a coroutine, not
a layout; and an unusable location from the browser is a 400 here, not a 500. Everything else is
Dash's: the page registry, path matching and path variables (`path_to_page`), query parsing,
the registry checks, the page container's ids; the not-found page is chosen as Dash does.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from dash import Input, Output, html, page_registry
from dash.exceptions import UnsupportedRelativePath

from .compat.dash import (
    ID_CONTENT,
    ID_DUMMY,
    ID_LOCATION,
    ID_STORE,
    check_for_duplicate_pathnames,
    first_request_done,
    mark_first_request_done,
    parse_query_string,
    path_to_page,
    validate_registry,
)
from .layout import call_layout, resolve_layout
from .server.errors import RequestError

if TYPE_CHECKING:
    from .app import Flash

_TITLE_SCRIPT = "function(data) { document.title = data.title; }"


def _not_found_page(app: Flash) -> tuple[Any, Any]:
    """Dash's choice: a page module named `not_found_404`, else a plain heading."""
    for module, page in page_registry.items():
        if module.split(".")[-1] == "not_found_404":
            return page["layout"], page["title"]
    return html.H1("404 - Page not found"), app.title


async def render_page(app: Flash, pathname: str | None, search: str | None, states: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    # The browser sends strings (or null); anything else, or a path outside the app, is a 400.
    if not isinstance(pathname, (str, type(None))) or not isinstance(search, (str, type(None))):
        raise RequestError("The page location must be a string path and query.")
    try:
        page, path_variables = path_to_page(None if pathname is None else app.strip_relative_path(pathname))
    except UnsupportedRelativePath:
        raise RequestError("The page path is outside the app's path prefix.") from None
    if page == {}:
        layout, title = _not_found_page(app)
    else:
        layout, title = page.get("layout", ""), page["title"]
    variables = path_variables or {}
    layout = await call_layout(app, layout, **{**variables, **parse_query_string(search), **states})
    title = await call_layout(app, title, **variables)
    return layout, {"title": title}


async def _validation_layout(app: Flash) -> Any:
    pages = list(page_registry.values())
    layouts = await asyncio.gather(*(call_layout(app, p["layout"]) for p in pages))
    main = await resolve_layout(app)
    validation = html.Div(list(layouts) + (main if isinstance(main, list) else [main]))
    if ID_CONTENT not in validation:
        raise Exception("`dash.page_container` not found in the layout")
    return validation


async def setup_router(app: Flash) -> None:
    """Register the router callback once, on the first request (as Dash does). Flash's
    `_setup_server` calls it under the app's setup lock, after Dash's setup: a before_request
    hook of its own would turn off the direct callback path (server/direct.py) for every pages app."""
    if first_request_done(app, "pages"):
        return
    inputs = {
        "pathname_": Input(ID_LOCATION, "pathname"),
        "search_": Input(ID_LOCATION, "search"),
        **app.routing_callback_inputs,
    }

    async def route(pathname_: str, search_: str, **states: Any) -> tuple[Any, dict[str, Any]]:
        return await render_page(app, pathname_, search_, states)

    # Called, not applied as `@`: `Flash.callback` is typed `-> Any`, which would make
    # `route` untyped for mypy.
    app.callback(
        Output(ID_CONTENT, "children"),
        Output(ID_STORE, "data"),
        inputs=inputs,
        prevent_initial_call=True,
        hidden=True,
    )(route)

    app.clientside_callback(
        _TITLE_SCRIPT,
        Output(ID_DUMMY, "children"),
        Input(ID_STORE, "data"),
        hidden=True,
    )
    # Marked done before Dash's registry checks, as Dash does: a bad registry fails this
    # first request once (a 500 naming the problem), and the router keeps serving after.
    # Duplicate paths are checked last so the validation layout is still built.
    mark_first_request_done(app, "pages")
    validate_registry(page_registry)
    if not app.config.suppress_callback_exceptions:
        app.validation_layout = await _validation_layout(app)
    check_for_duplicate_pathnames(page_registry)
