"""flash.client's scripts are served like a component suite, and the hub's SharedWorker URL
names the wire helpers it loads (a worker sees none of the page's scripts)."""
from __future__ import annotations

from urllib.parse import unquote

from flash import Flash, html
from flash.streaming.wiring import transport_settings
from tests.conftest import run


def test_the_hub_url_names_the_wire_helpers_and_both_are_served():
    app = Flash(__name__)
    app.layout = html.Div()
    worker = transport_settings(app)["worker"]
    hub, _, fragment = worker.partition("#wire=")
    assert hub.endswith(".js") and "flash-hub" in hub
    wire = unquote(fragment)
    assert "flash-wire" in wire and wire.endswith(".js")

    async def fetch():
        client = app.server.test_client()
        answers = []
        for url in (hub, wire):
            response = await client.get(url)
            answers.append((response.status_code, await response.get_data(as_text=True)))
        page = await client.get("/")
        return answers, await page.get_data(as_text=True)

    (hub_answer, wire_answer), page = run(fetch())
    assert hub_answer[0] == 200 and "__flashHub" in hub_answer[1]
    assert wire_answer[0] == 200 and "__flashWire" in wire_answer[1]
    # On the page (the fallback without SharedWorker) the wire helpers load before the hub.
    assert page.index("flash-wire") < page.index("flash-hub")
