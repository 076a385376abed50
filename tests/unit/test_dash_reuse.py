"""Flash's server pieces run Dash's own code (issue 11, item 2): what Dash builds, Flash serves."""

import json

import dash

from flash import Flash, Input, Output, html
from flash.compat.dash import QuartRequestAdapter
from flash.server.context import CallbackContext
from tests.conftest import callback_body, dep, run


def make_app():
    app = Flash(__name__)
    app.layout = html.Div([html.Button(id="btn"), html.Div(id="out")])
    return app


def test_the_callback_context_has_every_entry_dashs_own_has_with_request_details_deferred():
    app = make_app()
    body = callback_body("out.children", [dep("btn", "n_clicks", 1)])

    async def go():
        async with app.server.test_request_context("/_dash-update-component?q=1", method="POST", headers={"X-Custom": "yes"}):
            ours = app._initialize_context(body)
            deferred = set(dict(ours))
            dashs = dash.Dash._initialize_context(app, body)  # Dash's, with Dash's adapter
            return ours, deferred, dashs

    ours, deferred, dashs = run(go())
    assert isinstance(ours, CallbackContext)
    assert {"headers", "cookies", "args", "path", "remote", "origin"}.isdisjoint(deferred)
    assert set(dashs) - deferred == {"headers", "cookies", "args", "path", "remote", "origin"}
    for key in dashs:
        if key != "dash_response":
            assert ours[key] == dashs[key], key
    assert app.backend.request_adapter is QuartRequestAdapter  # the deferred one only while building


def test_a_registered_package_that_cannot_be_read_is_a_json_404_not_a_500():
    app = make_app()
    app.registered_paths["not_imported_pkg"] = {"x.js"}

    async def go():
        client = app.server.test_client()
        response = await client.get("/_dash-component-suites/not_imported_pkg/x.js")
        return response.status_code, json.loads(await response.get_data())

    status, body = run(go())
    assert status == 404 and body["error"] == "The resource could not be read."


def test_the_catch_all_page_is_dashs_and_framework_prefixes_are_404s():
    app = make_app()

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
    def echo(n):
        return n

    async def go():
        client = app.server.test_client()
        page = await client.get("/some/client/route")
        wrong = await client.get("/_dash-nothing-here")
        return page.status_code, await page.get_data(as_text=True), wrong.status_code

    status, text, wrong = run(go())
    assert status == 200 and "dash_renderer" in text
    assert wrong == 404
