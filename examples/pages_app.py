"""A multi-page app in one file: page layouts and titles may be plain or `async def` functions."""

import asyncio

from flash import Flash, dcc, html, page_container, register_page

try:
    from examples.theme import card, page
except ImportError:  # run as a script: python examples/pages_app.py
    from theme import card, page

app = Flash(__name__, use_pages=True, pages_folder="")


async def home_layout(**query):
    await asyncio.sleep(0.05)  # e.g. load something from a database
    return html.Div([html.H2("Home", id="page-title"), html.P("Pick a city above.")])


async def city_layout(city="", **query):
    # Called with no arguments too (Dash validates every page layout once at start-up).
    await asyncio.sleep(0.05)
    city = city or "somewhere"
    units = query.get("units", "metric")
    return html.Div(
        [
            html.H2(f"Weather in {city.title()}", id="page-title"),
            html.P(f"Showing {units} units.", id="units"),
        ]
    )


async def city_title(city=""):
    return f"{(city or 'somewhere').title()} weather"


def about_layout():
    return html.Div([html.H2("About", id="page-title"), html.P("A sync layout: it runs in a thread.")])


register_page("home", path="/", layout=home_layout, title="Weather")
register_page("city", path_template="/city/<city>", layout=city_layout, title=city_title)
register_page("about", path="/about", layout=about_layout, title="About")

app.layout = page(
    "Multi-page app",
    "use_pages with async page layouts and titles, in one file.",
    [
        html.Nav(
            [
                dcc.Link("Home", href="/", id="link-home"),
                " | ",
                dcc.Link("Paris", href="/city/paris", id="link-paris"),
                " | ",
                dcc.Link("Oslo (imperial)", href="/city/oslo?units=imperial", id="link-oslo"),
                " | ",
                dcc.Link("About", href="/about", id="link-about"),
            ],
            className="ticker-nav",
        ),
        card(page_container),
    ],
    size="md",
)


server = app.server  # the ASGI app: `hypercorn examples.pages_app:server`

if __name__ == "__main__":
    app.run(debug=True)
