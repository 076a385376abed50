"""W11's apps: a multi-page app and an app with a 1,000-row `dash_table`, built from whichever app
class is passed in (Flash, Dash on Quart, Dash on Flask), and the raw floor serving the bytes Dash
on Flask produced for the same page load.

`BENCH_W11_APP` (environment) picks the app in a server process: "pages" or "table".
"""

from __future__ import annotations

import os
from typing import Any

from dash import Input, Output, dash_table, dcc, html

from .raw import Receive, Scope, Send, _respond

PAGES = 8  # pages registered in the pages app
TABLE_ROWS = 1000
PAGE_PATH = {"pages": "/page-3", "table": "/"}  # the URL a browser opens: a page other than the first
PATHS = ("_dash-layout", "_dash-dependencies")


def kind() -> str:
    value = os.environ.get("BENCH_W11_APP", "pages")
    if value not in PAGE_PATH:
        raise ValueError(f"BENCH_W11_APP must be one of {sorted(PAGE_PATH)}, not {value!r}")
    return value


def _page_layout(i: int) -> Any:
    rows = [html.Tr([html.Td(f"item {i}.{j}"), html.Td(j * i)]) for j in range(10)]
    return html.Div([html.H2(f"Page {i}"), dcc.Input(id=f"in-{i}", value=""), html.Table(rows)])


def build_pages_app(cls: type, **kwargs: Any) -> Any:
    import dash

    app = cls(__name__, use_pages=True, pages_folder="", **kwargs)
    for i in range(PAGES):
        dash.register_page(
            f"bench_page_{i}", path=f"/page-{i}", layout=_page_layout(i), title=f"Page {i}", description=f"Benchmark page {i}"
        )
    nav = [dcc.Link(f"Page {i}", href=f"/page-{i}") for i in range(PAGES)]
    app.layout = html.Div([html.Nav(nav), dash.page_container])
    return app


def build_table_app(cls: type, **kwargs: Any) -> Any:
    app = cls(__name__, **kwargs)
    data = [
        {"id": i, "name": f"row {i}", "value": i * 1.5, "group": "abcde"[i % 5], "flag": i % 2 == 0} for i in range(TABLE_ROWS)
    ]
    columns = [{"name": key, "id": key} for key in data[0]]
    app.layout = html.Div(
        [
            html.H1("A 1,000-row table"),
            dcc.Input(id="filter", value=""),
            dash_table.DataTable(id="table", data=data, columns=columns, page_size=50, sort_action="native"),
            html.Div(id="selected"),
        ]
    )

    @app.callback(Output("selected", "children"), Input("table", "active_cell"))
    def selected(cell: Any) -> str:
        return f"selected {cell}"

    return app


def build(cls: type, **kwargs: Any) -> Any:
    return (build_pages_app if kind() == "pages" else build_table_app)(cls, **kwargs)


def requests() -> list[tuple[str, str, bytes]]:
    """One first page load of the chosen app: the page URL, its layout and its dependencies."""
    return [("GET", PAGE_PATH[kind()], b"")] + [("GET", "/" + path, b"") for path in PATHS]


class RawPages:
    """The floor: the page load's bytes, captured from Dash on Flask at start-up, sent as they are."""

    def __init__(self) -> None:
        import dash

        client = build(dash.Dash, use_async=False).server.test_client()
        self.pages: dict[str, tuple[bytes, list[tuple[bytes, bytes]]]] = {}
        for path in {"/", *(path for _, path, _ in requests())}:  # "/": what the runner polls until ready
            response = client.get(path)
            self.pages[path] = (response.data, [(b"content-type", response.headers["Content-Type"].encode())])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        page = self.pages.get(scope["path"])
        if page is None:
            await _respond(send, 404, b"", [])
            return
        await _respond(send, 200, page[0], page[1])
