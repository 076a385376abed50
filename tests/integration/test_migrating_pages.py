"""The README's "Migrating from Dash", done to a real multi-page Dash app: the app below is written
for Dash (`from dash import ...`, `Dash(...)`, `use_pages=True`, `dash.register_page` with path
templates, query strings, a 404 page and page callbacks). It is served as written by Dash's own
dev server, then migrated the README's way (the import lines and `Dash` -> `Flash`) and served by
hypercorn, and the same browser checks run against both."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

PYTHON = sys.executable
AppProcess = Any  # the `app_process` fixture's servers (tests/integration/conftest.py)

DASH_APP = {
    "app.py": """
        import os

        import dash
        from dash import Dash, dcc, html

        app = Dash(__name__, use_pages=True)
        server = app.server
        app.layout = html.Div([
            html.Nav([dcc.Link(page["name"], href=page["relative_path"], id="nav-" + page["module"].split(".")[-1])
                      for page in dash.page_registry.values() if "<" not in page["path"]]),
            dash.page_container,
        ])

        if __name__ == "__main__":
            app.run(port=int(os.environ["PORT"]))
    """,
    "pages/__init__.py": "",
    "pages/home.py": """
        import dash
        from dash import Input, Output, callback, dcc, html

        dash.register_page(__name__, path="/", name="Home", title="Home")

        layout = html.Div([
            html.H1("Home", id="heading"),
            dcc.Input(id="home-in", value="hi"),
            html.Div(id="home-out"),
            dcc.Link("North, 2024", href="/report/north?year=2024", id="to-north"),
        ])


        @callback(Output("home-out", "children"), Input("home-in", "value"))
        def echo(value):
            return f"home says {value}"
    """,
    "pages/report.py": """
        import dash
        from dash import Input, Output, callback, dcc, html

        dash.register_page(__name__, path_template="/report/<region>", name="Report",
                           title=lambda region=None, **_: f"Report {region}")


        def layout(region=None, year="all", **_query):
            return html.Div([
                html.H1(f"Report {region}", id="heading"),
                html.Div(year, id="year"),
                dcc.Dropdown(["sales", "costs"], "sales", id="metric", clearable=False),
                html.Div(id="metric-out"),
            ])


        @callback(Output("metric-out", "children"), Input("metric", "value"))
        def show(metric):
            return f"showing {metric}"
    """,
    "pages/not_found_404.py": """
        import dash
        from dash import html

        dash.register_page(__name__)
        layout = html.H1("Nothing here", id="heading")
    """,
}


def migrate(source: str) -> str:
    """What the README says to change: the import lines, and `Dash` becomes `Flash`."""
    source = re.sub(r"^from dash import ", "from flash import ", source, flags=re.MULTILINE)
    return re.sub(r"\bDash\b", "Flash", source)


def write_app(root: Path, migrated: bool) -> None:
    for name, source in DASH_APP.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        source = textwrap.dedent(source)
        path.write_text(migrate(source) if migrated else source)


def test_migrate_changes_only_what_the_readme_says() -> None:
    assert migrate("import dash\nfrom dash import Dash, dcc\napp = Dash(__name__)\ndash.register_page(x)\n") == (
        "import dash\nfrom flash import Flash, dcc\napp = Flash(__name__)\ndash.register_page(x)\n"
    )


@pytest.mark.browser
@pytest.mark.parametrize("migrated", [False, True], ids=["dash-as-written", "migrated-to-flash"])
def test_a_multi_page_dash_app_behaves_the_same_after_the_readmes_migration(
    dash_duo_mp: Any, app_process: Callable[..., AppProcess], tmp_path: Path, migrated: bool
) -> None:
    write_app(tmp_path, migrated)
    if migrated:
        server = app_process([PYTHON, "-m", "hypercorn", "app:server", "--bind", "127.0.0.1:{port}"])
    else:
        server = app_process([PYTHON, "app.py"])
    server.wait_until("/", lambda status, _: status == 200, timeout=60, msg="the app serving")
    # Flash answers its own framework prefix with a JSON 404; Dash's catch-all serves the page.
    assert server.get("/_flash/no-such-route")[0] == (404 if migrated else 200)
    duo = dash_duo_mp
    duo.driver.get(server.url + "/")
    duo.wait_for_text_to_equal("#heading", "Home", timeout=20)
    duo.wait_for_text_to_equal("#home-out", "home says hi", timeout=20)
    duo.wait_for(lambda: duo.driver.title == "Home", timeout=20, msg="the page's title")
    field = duo.find_element("#home-in")
    field.send_keys(" there")
    duo.wait_for_text_to_equal("#home-out", "home says hi there", timeout=20)

    duo.find_element("#to-north").click()  # client-side navigation: the router callback
    duo.wait_for_text_to_equal("#heading", "Report north", timeout=20)
    duo.wait_for_text_to_equal("#year", "2024", timeout=20)
    duo.wait_for_text_to_equal("#metric-out", "showing sales", timeout=20)
    duo.wait_for(lambda: duo.driver.title == "Report north", timeout=20, msg="the templated title")

    duo.find_element("#nav-home").click()
    duo.wait_for_text_to_equal("#home-out", "home says hi", timeout=20)

    duo.driver.get(server.url + "/no/such/page")  # a full load of an unknown path
    duo.wait_for_text_to_equal("#heading", "Nothing here", timeout=20)
    assert [entry for entry in duo.get_logs() if entry.get("level") == "SEVERE"] == []
