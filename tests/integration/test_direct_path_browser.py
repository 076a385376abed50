"""What a user sees of the direct callback path: in a real browser, callbacks served without
Quart's request machinery still see the browser's headers and cookies, and an app that adds a
`before_request` hook (auth, logging) has it run on every callback request."""

from __future__ import annotations

import pytest
from quart import g, request
from quart.globals import _cv_request

from flash import Flash, Input, Output, ctx, html
from flash.testing import FlashComposite


def _app() -> Flash:
    app = Flash(__name__)
    app.layout = html.Div([html.Button("go", id="go"), html.Div("idle", id="out")])

    @app.server.route("/test/cookie")
    async def set_cookie() -> tuple[str, int, dict[str, str]]:
        return "ok", 200, {"Set-Cookie": "flavour=oat; Path=/"}

    @app.callback(Output("out", "children"), Input("go", "n_clicks"), prevent_initial_call=True)
    async def show(n_clicks: int) -> str:
        path = type(_cv_request.get()).__name__
        browser = "chrome" if "Chrome" in request.headers.get("User-Agent", "") else "other"
        return f"{n_clicks} {path} {browser} {ctx.cookies.get('flavour', '-')}"

    return app


@pytest.mark.browser
@pytest.mark.direct_path  # about the direct path itself: on whatever FLASH_DIRECT_PATH says
def test_callbacks_take_the_direct_path_and_still_see_the_browser_request(dash_duo_mp: FlashComposite) -> None:
    dash_duo_mp.start_server(_app())
    dash_duo_mp.driver.get(dash_duo_mp.server_url + "/test/cookie")
    dash_duo_mp.driver.get(dash_duo_mp.server_url)
    dash_duo_mp.wait_for_text_to_equal("#out", "idle")
    dash_duo_mp.find_element("#go").click()
    dash_duo_mp.wait_for_text_to_equal("#out", "1 DeferredRequestContext chrome oat")
    assert dash_duo_mp.get_logs() == []


@pytest.mark.browser
def test_a_before_request_hook_runs_for_every_callback(dash_duo_mp: FlashComposite) -> None:
    app = _app()

    @app.server.before_request
    async def stamp() -> None:
        if request.path.endswith("_dash-update-component"):
            g.stamped = "hooked"

    @app.callback(Output("go", "title"), Input("go", "n_clicks"), prevent_initial_call=True)
    async def title(n_clicks: int) -> str:
        return f"{g.get('stamped', 'missed')} {n_clicks}"

    dash_duo_mp.start_server(app)
    for clicks in (1, 2):
        dash_duo_mp.find_element("#go").click()
        dash_duo_mp.wait_for_text_to_equal("#out", f"{clicks} RequestContext chrome -")
        dash_duo_mp.wait_for_element(f"#go[title='hooked {clicks}']")
    assert dash_duo_mp.get_logs() == []
