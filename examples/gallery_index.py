"""The gallery's index page: a card per example with its screenshot, served by `python -m examples`.

Screenshots live in examples/screenshots/<name>.png (made by scripts/screenshots.py) and are
served by a route of the index's own server; an example without one gets a drawn placeholder.
"""

from __future__ import annotations

from pathlib import Path

import dash_mantine_components as dmc
from quart import abort, send_from_directory

from flash import Flash, html

try:
    from examples.theme import provider
except ImportError:  # imported with examples/ itself on sys.path
    from theme import provider

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


def example_card(module: str, title: str, text: str, url: str, tags: list[str]) -> html.A:
    """One example: the whole card is its link (one link per example, opened in a new tab)."""
    shot = SCREENSHOTS / f"{module}.png"
    if shot.exists():
        picture = dmc.Image(
            src=f"/screenshots/{module}.png?v={int(shot.stat().st_mtime)}",
            h=190,
            fit="cover",
            alt=f"Screenshot of {title}",
            className="shot",
        )
    else:
        picture = html.Div(title, className="shot shot-placeholder")
    return html.A(
        dmc.Card(
            [
                dmc.CardSection(picture, className="shot-frame"),
                dmc.Group(
                    [dmc.Title(title, order=4), dmc.Text("Open →", c="indigo", size="sm", fw=600)],
                    justify="space-between",
                    mt="md",
                    mb=4,
                ),
                dmc.Text(text, size="sm", c="dimmed", className="blurb"),
                dmc.Group(
                    [dmc.Badge(tag, variant="light", size="sm") for tag in tags]
                    + [dmc.Badge(f"examples/{module}.py", variant="outline", color="gray", size="sm")],
                    gap=6,
                    mt="sm",
                ),
            ],
            className="example-card",
            h="100%",
        ),
        href=url,
        id=f"link-{module}",
        target="_blank",
        className="card-link",
    )


def build_index(host: str, links: list[tuple[str, str, str, int]], tags: dict[str, list[str]], root: Path) -> Flash:
    app = Flash(__name__, title="Flash examples")
    logo = root / "flash-logo.png"

    @app.server.route("/screenshots/<name>.png")
    async def screenshot(name: str):  # type: ignore[no-untyped-def]
        if not name.replace("_", "").isalnum() or not (SCREENSHOTS / f"{name}.png").is_file():
            abort(404)
        return await send_from_directory(SCREENSHOTS, f"{name}.png")

    @app.server.route("/flash-logo.png")
    async def flash_logo():  # type: ignore[no-untyped-def]
        if not logo.is_file():
            abort(404)
        return await send_from_directory(root, "flash-logo.png")

    hero = html.Header(
        dmc.Container(
            dmc.Group(
                [
                    html.Img(src="/flash-logo.png", alt="Flash", className="hero-logo")
                    if logo.is_file()
                    else dmc.Title("Flash", c="white"),
                    html.Div(
                        [
                            dmc.Title("Example gallery", order=1, c="white", id="gallery-title"),
                            dmc.Text(
                                "Async Dash on Quart that streams UI updates. Each card is a plain Flash "
                                "app in examples/, running now; run one alone with "
                                "python examples/<name>.py.",
                                c="gray.4",
                                maw=560,
                            ),
                        ]
                    ),
                ],
                gap="xl",
                wrap="nowrap",
            ),
            size="xl",
        ),
        className="hero",
    )

    def layout() -> dmc.MantineProvider:
        """Built per page load, so screenshots taken while the gallery runs show on reload."""
        cards = dmc.SimpleGrid(
            [
                example_card(module, title, text, f"http://{host}:{port}/", tags.get(module, []))
                for module, title, text, port in links
            ],
            cols={"base": 1, "sm": 2, "lg": 3},
            spacing="lg",
            verticalSpacing="lg",
            id="cards",
        )
        return provider(html.Div([hero, dmc.Container(cards, size="xl", py="xl")], className="gallery"))

    app.layout = layout
    return app
