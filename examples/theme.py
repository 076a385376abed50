"""The gallery's look, shared by the examples: a Mantine page with a header and notifications.

`page(title, blurb, children)` wraps an example's layout in `dmc.MantineProvider` (the theme
below), a centred container with the example's title and one line on what it shows, and a
`NotificationContainer` (id "notifications") that `flash.notifications.notify` appends to.
Plain `html`/`dcc` controls inside get a light matching style from examples/assets/gallery.css.

Examples import it as `examples.theme` (gallery, tests) or `theme` (`python examples/x.py`).
"""

from __future__ import annotations

from typing import Any

import dash_mantine_components as dmc

from flash import html
from flash.notifications import notifications_container

THEME = {
    "primaryColor": "indigo",
    "defaultRadius": "md",
    "fontFamily": "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    "headings": {"fontFamily": "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"},
    "components": {"Card": {"defaultProps": {"shadow": "sm", "withBorder": True, "padding": "lg"}}},
}


def provider(children: Any) -> dmc.MantineProvider:
    """Mantine's provider with the gallery theme and the notifications container."""
    return dmc.MantineProvider(
        [notifications_container(position="top-right", autoClose=4000, limit=4), children],
        theme=THEME,
        forceColorScheme="light",
    )


def header(title: str, blurb: str) -> html.Header:
    return html.Header(
        dmc.Group(
            [
                dmc.ThemeIcon(
                    "⚡", size="lg", radius="md", variant="gradient", gradient={"from": "indigo", "to": "cyan"}, fz="lg"
                ),
                html.Div([dmc.Title(title, order=2, className="example-title"), dmc.Text(blurb, c="dimmed", size="sm")]),
            ],
            gap="sm",
            wrap="nowrap",
        ),
        className="example-header",
    )


def page(title: str, blurb: str, children: Any, size: str | int = "lg") -> dmc.MantineProvider:
    """An example's whole layout: header, then `children`, in the gallery's theme."""
    content = children if isinstance(children, list) else [children]
    return provider(dmc.Container([header(title, blurb), *content], size=size, py="lg", className="example"))


def card(children: Any, **props: Any) -> dmc.Card:
    """A white card, the examples' panel."""
    return dmc.Card(children if isinstance(children, list) else [children], mb="md", **props)
