"""What a user sees of the page cache (flash/server/page_cache.py), in Chromium against a real
server: a reload revalidates the layout (a 304, the page is the same and works), and a layout
assigned on the server is what the next load shows."""

from __future__ import annotations

import pytest

from flash import Flash, Input, Output, html
from flash.testing import FlashComposite

ROWS = 300  # a layout of some KB, so that a revalidated one transfers less than its body

# Size of what the last load of the layout transferred, and of its body (0, 0 if not loaded).
LAYOUT_TIMING = """
const entries = performance.getEntriesByType('resource').filter(e => e.name.includes('_dash-layout'));
const last = entries[entries.length - 1];
return last ? [last.transferSize, last.encodedBodySize] : [0, 0];
"""


def _app() -> Flash:
    app = Flash(__name__)
    rows = [html.P(f"row {i}", id=f"row-{i}") for i in range(ROWS)]
    app.layout = html.Div([html.Button("go", id="go"), html.Div("idle", id="out"), *rows])

    @app.server.route("/test/relayout")
    async def relayout() -> str:
        app.layout = html.Div([html.Button("go", id="go"), html.Div("new layout", id="out")])
        return "ok"

    @app.callback(Output("out", "children"), Input("go", "n_clicks"), prevent_initial_call=True)
    async def show(n_clicks: int) -> str:
        return f"clicked {n_clicks}"

    return app


@pytest.mark.browser
def test_a_reload_revalidates_and_a_new_layout_shows_on_the_next_load(dash_duo_mp: FlashComposite) -> None:
    dash_duo_mp.start_server(_app())
    dash_duo_mp.wait_for_text_to_equal("#out", "idle")
    transferred, body = dash_duo_mp.driver.execute_script(LAYOUT_TIMING)
    assert body > 5000 and transferred >= body  # the first load carries the whole layout

    dash_duo_mp.driver.refresh()
    dash_duo_mp.wait_for_text_to_equal("#out", "idle")
    dash_duo_mp.wait_for_text_to_equal(f"#row-{ROWS - 1}", f"row {ROWS - 1}")
    transferred, body = dash_duo_mp.driver.execute_script(LAYOUT_TIMING)
    assert body > 5000 and transferred < body  # answered 304: the browser's copy was current
    dash_duo_mp.find_element("#go").click()
    dash_duo_mp.wait_for_text_to_equal("#out", "clicked 1")  # the page works on the kept copy

    dash_duo_mp.driver.get(dash_duo_mp.server_url + "/test/relayout")
    dash_duo_mp.driver.get(dash_duo_mp.server_url)
    dash_duo_mp.wait_for_text_to_equal("#out", "new layout")
    assert not dash_duo_mp.driver.find_elements("css selector", "#row-0")
    dash_duo_mp.find_element("#go").click()
    dash_duo_mp.wait_for_text_to_equal("#out", "clicked 1")
    assert dash_duo_mp.get_logs() == []
