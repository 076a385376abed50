"""flash.client's scripts are served like a component suite, and the hub's SharedWorker URL
names the scripts it loads first (a worker sees none of the page's scripts), in the page's order."""

from __future__ import annotations

from urllib.parse import unquote

from flash import Flash, client, html
from flash.streaming.declare.wiring import transport_settings
from tests.conftest import run


def test_the_hub_url_names_the_wire_helpers_and_hub_parts_and_all_are_served():
    app = Flash(__name__)
    app.layout = html.Div()
    worker = transport_settings(app)["worker"]
    hub, _, fragment = worker.partition("#")
    assert hub.endswith(".js") and "flash-hub." in hub
    loads = [unquote(pair.removeprefix("load=")) for pair in fragment.split("&")]
    assert all(pair.startswith("load=") for pair in fragment.split("&"))
    # the wire helpers first, then the hub's parts, in order, each fingerprinted
    assert [url.rsplit("/", 1)[-1].split(".")[0] + ".js" for url in loads] == list(client.WORKER_IMPORTS)
    assert all(url.endswith(".js") and "/_dash-component-suites/flash.client/" in url for url in loads)

    async def fetch():
        test_client = app.server.test_client()
        answers = []
        for url in (hub, *loads):
            response = await test_client.get(url)
            answers.append((response.status_code, await response.get_data(as_text=True)))
        page = await test_client.get("/")
        return answers, await page.get_data(as_text=True)

    answers, page = run(fetch())
    assert [status for status, _ in answers] == [200] * len(answers)
    assert "__flashHub.attach" in answers[0][1] and "__flashWire =" in answers[1][1]
    # On the page (the fallback without SharedWorker) every script loads, parts before the
    # files that use them: the page's order is the worker's, then the hub, then the tab's side.
    order = [*client.WORKER_IMPORTS, client.HUB, *client.STREAM]
    positions = [page.index(f"flash.client/{name.removesuffix('.js')}.") for name in order]
    assert positions == sorted(positions), order
