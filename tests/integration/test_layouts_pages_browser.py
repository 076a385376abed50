"""Layouts (component, sync function, async function) and multi-page apps, as a user sees them."""

from __future__ import annotations

import asyncio
import itertools
import threading
from typing import Any, Callable

import pytest
from quart.globals import _cv_request

from flash import Flash, Input, Output, dcc, html, page_container, register_page
from flash.server.direct import direct_path_option
from flash.testing import FlashComposite


def _visit_count(text: str) -> int:
    return int(text.rsplit(" ", 1)[-1])


def _component_layout(_visits: Callable[[], int]) -> Any:
    return _body("component layout", 0)


def _body(kind: str, visit: int) -> Any:
    return html.Div(
        [
            html.H1(kind, id="kind"),
            html.Div(f"visit {visit}", id="visit"),
            dcc.Input(id="name", value="", type="text"),
            html.Div(id="greeting"),
        ]
    )


def _sync_layout(visits: Callable[[], int]) -> Any:
    def layout() -> Any:
        # Runs in Flash's thread pool, so the loop keeps serving while it builds.
        in_thread = threading.current_thread() is not threading.main_thread()
        kind = "sync layout in thread" if in_thread else "sync layout on main thread"
        return _body(kind, visits())

    return layout


def _async_layout(visits: Callable[[], int]) -> Any:
    async def layout() -> Any:
        await asyncio.sleep(0.01)
        return _body("async layout", visits())

    return layout


@pytest.mark.browser
@pytest.mark.parametrize(
    "make_layout, kind, per_visit",
    [
        (_component_layout, "component layout", False),
        (_sync_layout, "sync layout in thread", True),
        (_async_layout, "async layout", True),
    ],
    ids=["component", "sync-function", "async-function"],
)
def test_layout_kinds_render_and_run_callbacks(
    dash_duo_mp: FlashComposite, make_layout: Callable, kind: str, per_visit: bool
) -> None:
    counter = itertools.count(1)
    app = Flash(__name__)
    app.layout = make_layout(lambda: next(counter))

    @app.callback(Output("greeting", "children"), Input("name", "value"))
    async def greet(name: str) -> str:
        return f"Hello {name or 'nobody'}"

    dash_duo_mp.start_server(app)
    dash_duo_mp.wait_for_text_to_equal("#kind", kind)
    dash_duo_mp.wait_for_text_to_equal("#greeting", "Hello nobody")
    dash_duo_mp.find_element("#name").send_keys("Ada")
    dash_duo_mp.wait_for_text_to_equal("#greeting", "Hello Ada")

    first = _visit_count(dash_duo_mp.find_element("#visit").text)
    dash_duo_mp.driver.refresh()
    dash_duo_mp.wait_for_text_to_equal("#greeting", "Hello nobody")
    second = _visit_count(dash_duo_mp.find_element("#visit").text)
    # A function layout is called again for each page load; a component layout is fixed.
    assert (second > first) if per_visit else (second == first == 0)
    assert dash_duo_mp.get_logs() == []


def _make_pages_app() -> Flash:
    app = Flash(__name__, use_pages=True, pages_folder="")

    def home(**query: str) -> Any:
        return html.Div([html.H2("Home", id="page-name"), html.Div(f"query {sorted(query.items())}", id="query")])

    async def async_page(**query: str) -> Any:
        await asyncio.sleep(0.01)
        return html.Div([html.H2("Async page", id="page-name"), html.Div(f"query {sorted(query.items())}", id="query")])

    async def async_title() -> str:
        await asyncio.sleep(0)
        return "Async title"

    def report(report_id: str | None = None, **query: str) -> Any:
        return html.Div(
            [
                html.H2(f"Report {report_id}", id="page-name"),
                html.Div(f"query {sorted(query.items())}", id="query"),
                html.Button("open", id="report-btn"),
                html.Div(id="report-out"),
                html.Div(id="report-path"),
            ]
        )

    def report_title(report_id: str | None = None) -> str:
        return f"Report #{report_id}"

    register_page("home", path="/", layout=home, title="Home title")
    register_page("async_page", path="/async", layout=async_page, title=async_title)
    register_page("report", path_template="/report/<report_id>", layout=report, title=report_title)

    app.layout = html.Div(
        [
            dcc.Link("home", href="/", id="to-home"),
            dcc.Link("async", href="/async?color=red&size=3", id="to-async"),
            dcc.Link("report", href="/report/42?tab=charts", id="to-report"),
            dcc.Link("missing", href="/nowhere", id="to-missing"),
            page_container,
        ]
    )

    @app.callback(
        Output("report-out", "children"),
        Output("report-path", "children"),
        Input("report-btn", "n_clicks"),
        prevent_initial_call=True,
    )
    async def open_report(n_clicks: int) -> tuple[str, str]:
        # Which path served this request: Flash's direct ASGI path, or Quart's view.
        return f"opened {n_clicks}", type(_cv_request.get()).__name__

    return app


@pytest.mark.browser
def test_pages_navigate_with_links_titles_templates_and_query_strings(dash_duo_mp: FlashComposite) -> None:
    dash_duo_mp.start_server(_make_pages_app())
    duo = dash_duo_mp

    def expect(page: str, query: str, title: str) -> None:
        duo.wait_for_text_to_equal("#page-name", page)
        duo.wait_for_text_to_equal("#query", query)
        duo.wait_for(lambda: duo.driver.title == title, timeout=5, msg=f"title {title!r} (is {duo.driver.title!r})")

    expect("Home", "query []", "Home title")
    # dcc.Link navigates client-side: the page (and this marker) survives each navigation.
    duo.driver.execute_script("window.__flashMarker = 'same page';")

    duo.find_element("#to-async").click()
    expect("Async page", "query [('color', 'red'), ('size', '3')]", "Async title")
    assert duo.driver.current_url.endswith("/async?color=red&size=3")

    duo.find_element("#to-report").click()
    expect("Report 42", "query [('tab', 'charts')]", "Report #42")
    duo.find_element("#report-btn").click()
    duo.wait_for_text_to_equal("#report-out", "opened 1")
    # The pages router does not turn off the direct callback path (only FLASH_DIRECT_PATH=0 does).
    taken = "DeferredRequestContext" if direct_path_option(None) else "RequestContext"
    assert duo.find_element("#report-path").text == taken

    duo.find_element("#to-missing").click()
    duo.wait_for_text_to_equal("#_pages_content h1", "404 - Page not found")

    duo.find_element("#to-home").click()
    expect("Home", "query []", "Home title")
    assert duo.driver.execute_script("return window.__flashMarker;") == "same page"

    # Loading a templated URL with a query string directly works too.
    duo.driver.get(duo.url_for("/report/7?x=1"))
    expect("Report 7", "query [('x', '1')]", "Report #7")
    assert duo.get_logs() == []
