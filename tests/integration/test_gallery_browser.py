"""The gallery in headless Chromium: notifications from a stream, the grid and SQL examples, the index.

Notifications auto-close, so what they showed is recorded by a MutationObserver as they appear
(`window.notesSeen`), never read against the clock. The apps run in a forked server
(`flash_duo_mp`); server-side facts come back over HTTP routes (tests/streaming/probe.py).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import urllib.request
from pathlib import Path
from typing import Any, Callable

import dash_mantine_components as dmc
import pytest
from PIL import Image
from quart import jsonify

from flash import Flash, Input, event_callback, html, stream_props
from flash.notifications import hide_notification, notifications_container, notify, update_notification
from flash.testing import FlashComposite
from tests.integration.conftest import http_get
from tests.integration.test_examples import load_example  # noqa: F401  (a fixture)
from tests.streaming.probe import Probe, running

ROOT = Path(__file__).resolve().parents[2]

# Every notification title/message pair the page shows, in order, and the ones shown now.
WATCH_NOTES_JS = """
window.notesSeen = [];
var note = function (root) {
    var title = root.querySelector('.mantine-Notification-title');
    var body = root.querySelector('.mantine-Notification-description');
    return (title ? title.textContent : '') + '|' + (body ? body.textContent : '');
};
new MutationObserver(function () {
    document.querySelectorAll('.mantine-Notification-root').forEach(function (root) {
        var text = note(root);
        if (window.notesSeen.indexOf(text) < 0) { window.notesSeen.push(text); }
    });
}).observe(document.body, {childList: true, characterData: true, subtree: true});
window.notesNow = function () {
    return Array.from(document.querySelectorAll('.mantine-Notification-root')).map(note);
};
"""


def watch_notes(duo: FlashComposite) -> None:
    duo.driver.execute_script(WATCH_NOTES_JS)


def notes_seen(duo: FlashComposite) -> list[str]:
    return duo.driver.execute_script("return window.notesSeen.slice();")


def notes_now(duo: FlashComposite) -> list[str]:
    return duo.driver.execute_script("return window.notesNow();")


def wait_note(duo: FlashComposite, text: str, now: bool = False) -> None:
    seen = notes_now if now else notes_seen
    duo.wait_for(lambda: text in seen(duo), timeout=20, msg=f"notification {text!r}; seen {notes_seen(duo)}")


def grid_count(duo: FlashComposite) -> int:
    return duo.driver.execute_script("return window.dash_ag_grid.getApi('grid').getDisplayedRowCount();")


def status_rows(duo: FlashComposite) -> int:
    """Rows the status line reports, e.g. 1,200 for "1,200 of 20,000 rows"."""
    text = duo.find_element("#status").text
    return int(text.split()[0].replace(",", "")) if " of " in text else 0


def set_number(duo: FlashComposite, selector: str, value: int) -> None:
    """Type into a dmc.NumberInput as a user does, until the component's value is `value`."""
    box = duo.find_element(selector)
    box.click()
    duo.driver.execute_script("arguments[0].select();", box)
    box.send_keys(str(value))
    component_id = selector.lstrip("#")
    duo.wait_for(
        lambda: (
            duo.driver.execute_script("return window.dash_component_api.getLayout(arguments[0]).props.value;", component_id)
            == value
        ),
        msg=f"{selector} = {value}",
    )


# --- notifications from a stream -----------------------------------------------------------


def make_notify_app() -> tuple[Flash, Probe]:
    app = Flash(__name__)
    probe = Probe(app)
    app.layout = dmc.MantineProvider(
        [
            notifications_container(autoClose=False),
            html.Button("Go", id="go"),
            html.Button("Hide", id="hide"),
            html.Div("idle", id="status"),
        ]
    )

    @event_callback(Input("go", "n_clicks"))
    async def go(n_clicks):
        # Two in a row reach the page in one animation frame: both must show.
        yield notify("first message", "First", id="one")
        yield notify(html.B("second message"), "Second", color="green")
        yield stream_props("status", {"children": "sent"})
        await probe.gate("update").wait()
        yield update_notification("one", "first, updated", "First (updated)", color="orange")
        yield stream_props("status", {"children": "updated"})
        await probe.gate("again").wait()
        yield notify("again", "First again", id="one")  # the same id on screen: it becomes this one
        yield stream_props("status", {"children": "again"})

    @event_callback(Input("hide", "n_clicks"))
    async def hide(n_clicks):
        yield hide_notification("one")
        yield stream_props("status", {"children": "hidden"})

    return app, probe


def test_notifications_yielded_by_a_stream_show_update_and_hide(flash_duo_mp: FlashComposite) -> None:
    duo = flash_duo_mp
    app, probe = make_notify_app()
    duo.start_server(app)
    watch_notes(duo)
    duo.find_element("#go").click()
    duo.wait_for_text_to_equal("#status", "sent")
    duo.wait_for(
        lambda: sorted(notes_now(duo)) == ["First|first message", "Second|second message"],
        timeout=10,
        msg=f"both notifications; seen {notes_seen(duo)}",
    )
    assert duo.find_element(".mantine-Notification-description b").text == "second message"  # a component
    probe.release(duo, "update")
    duo.wait_for_text_to_equal("#status", "updated")
    wait_note(duo, "First (updated)|first, updated", now=True)
    probe.release(duo, "again")
    duo.wait_for_text_to_equal("#status", "again")
    wait_note(duo, "First again|again", now=True)
    assert sorted(notes_now(duo)) == ["First again|again", "Second|second message"]
    duo.find_element("#hide").click()
    duo.wait_for_text_to_equal("#status", "hidden")
    duo.wait_for(lambda: notes_now(duo) == ["Second|second message"], timeout=10, msg="'one' hidden")
    assert duo.get_logs() == []


# --- examples/grid_stream.py ---------------------------------------------------------------


def test_grid_stream_example(flash_duo_mp: FlashComposite, load_example: Callable[[str], Flash]) -> None:
    duo = flash_duo_mp
    app = load_example("grid_stream")
    probe = Probe(app)
    duo.start_server(app)
    duo.wait_for_text_to_equal("#status", "Press Start to run the query.")
    watch_notes(duo)
    set_number(duo, "#rows", 2500)

    duo.find_element("#start").click()
    duo.wait_for_text_to_equal("#status", "Done: 2,500 rows.", timeout=30)
    duo.wait_for(lambda: grid_count(duo) == 2500, msg="2,500 rows in the grid")
    wait_note(duo, "Done|All 2,500 rows are in the grid.")  # "Started" became "Done"
    seen = notes_seen(duo)
    assert seen[0] == "Started|Streaming 2,500 rows into the grid.", seen
    assert [n for n in seen if n.startswith("Progress|")] == ["Progress|1,000 rows loaded", "Progress|2,000 rows loaded"]
    assert duo.find_element("#start").is_enabled() and not duo.find_element("#cancel").is_enabled()

    # A long run, cancelled: the job notification says so, the rows stay, nothing runs on.
    set_number(duo, "#rows", 100000)
    duo.find_element("#start").click()
    wait_note(duo, "Started|Streaming 100,000 rows into the grid.", now=True)
    duo.wait_for(lambda: status_rows(duo) >= 750, timeout=20, msg="some chunks arrived")
    duo.find_element("#cancel").click()
    duo.wait_for_text_to_equal("#status", "Stopped: the rows received so far stay in the grid.")
    wait_note(duo, "Stopped|The query stopped; the rows received so far stay in the grid.")
    probe.wait_state(duo, lambda state: state["live"] == 0, msg="the generator closed on the server")
    assert running(duo) == []
    duo.wait_for(lambda: duo.find_element("#start").is_enabled(), msg="Start is back")
    assert not duo.find_element("#cancel").is_enabled()
    count = grid_count(duo)
    assert 750 <= count < 100000
    assert duo.get_logs() == []


# --- examples/sql_stream.py ----------------------------------------------------------------


def test_sql_stream_example(
    flash_duo_mp: FlashComposite, load_example: Callable[[str], Flash], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "orders.sqlite3"
    monkeypatch.setenv("FLASH_SQL_EXAMPLE_DB", str(db))
    duo = flash_duo_mp
    app = load_example("sql_stream")
    probe = Probe(app)
    module = sys.modules["flash_example_sql_stream"]

    @app.server.route("/test/pool")
    async def pool():
        return jsonify({"checked_out": module.engine.pool.checkedout()})

    duo.start_server(app)
    watch_notes(duo)

    # North orders of at least $2,000: the file is created and seeded, then streamed.
    duo.find_element("#region").click()
    duo.wait_for_element(".mantine-Select-option")
    next(o for o in duo.find_elements(".mantine-Select-option") if o.text == "North").click()
    duo.wait_for(
        lambda: duo.driver.execute_script("return window.dash_component_api.getLayout('region').props.value;") == "North",
        msg="region = North",
    )
    set_number(duo, "#min-amount", 2000)
    duo.find_element("#start").click()
    duo.wait_for(lambda: duo.find_element("#status").text.startswith("Done: "), timeout=60, msg="query done")
    with sqlite3.connect(db) as conn:
        expected = conn.execute("SELECT count(*) FROM orders WHERE region = 'North' AND amount >= 2000").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == module.SEED_ROWS
    assert 0 < expected < module.SEED_ROWS
    assert duo.find_element("#status").text.startswith(f"Done: {expected:,} rows in ")
    duo.wait_for(lambda: grid_count(duo) == expected, msg=f"{expected} rows in the grid")
    sql = duo.find_element("#sql").text
    assert "FROM orders" in sql and "orders.amount >= 2000" in sql and "orders.region = 'North'" in sql, sql
    duo.wait_for(
        lambda: any(n.startswith(f"Query done|{expected:,} orders streamed in ") for n in notes_seen(duo)),
        msg="the done notification",
    )

    # Every order, cancelled mid-stream: the cursor's connection goes back to the pool.
    duo.find_element("#region").click()
    duo.wait_for_element(".mantine-Select-option")
    next(o for o in duo.find_elements(".mantine-Select-option") if o.text == "All").click()
    set_number(duo, "#min-amount", 0)
    duo.find_element("#start").click()
    duo.wait_for(lambda: status_rows(duo) >= 500, timeout=30, msg="partitions arrived")
    duo.find_element("#cancel").click()
    duo.wait_for_text_to_equal("#status", "Cancelled: the query was closed; the rows read stay.")
    wait_note(duo, "Query cancelled|The cursor was closed.")
    probe.wait_state(duo, lambda state: state["live"] == 0, msg="the generator closed on the server")
    duo.wait_for(
        lambda: json.loads(http_get(duo.url_for("/test/pool"))[1])["checked_out"] == 0, msg="the connection was returned"
    )
    assert 500 <= grid_count(duo) < module.SEED_ROWS
    assert duo.find_element("#start").is_enabled()
    assert duo.get_logs() == []


# --- the index -----------------------------------------------------------------------------


def test_gallery_index_has_a_card_per_example(
    flash_duo_mp: FlashComposite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import examples.gallery_index as gallery_index
    from examples.__main__ import EXAMPLES, index_app

    shots = tmp_path / "shots"
    shots.mkdir()
    shutil.copy(ROOT / "examples" / "screenshots" / "grid_stream.png", shots / "grid_stream.png")
    monkeypatch.setattr(gallery_index, "SCREENSHOTS", shots)  # one screenshot; the others missing
    links = [(module, title, text, 9100 + i) for i, (module, title, text) in enumerate(EXAMPLES)]
    duo = flash_duo_mp
    duo.start_server(index_app("127.0.0.1", links))
    duo.wait_for_text_to_equal("#gallery-title", "Example gallery")
    cards: list[dict[str, Any]] = duo.driver.execute_script("""
        return Array.from(document.querySelectorAll('a.card-link')).map(function (a) {
            return {id: a.id, href: a.href, title: a.querySelector('h4').textContent,
                    placeholder: a.querySelector('.shot-placeholder') ? a.querySelector('.shot-placeholder').textContent : null};
        });""")
    assert [c["id"] for c in cards] == [f"link-{module}" for module, *_ in EXAMPLES]
    assert [c["href"] for c in cards] == [f"http://127.0.0.1:{port}/" for *_, port in links]
    assert [c["title"] for c in cards] == [title for _, title, _ in EXAMPLES]
    rest = cards[1:]  # all but grid_stream, the one with a screenshot here
    duo.wait_for(
        lambda: (
            duo.driver.execute_script(
                "var i = document.querySelector('#link-grid_stream img'); return i.complete && i.naturalWidth;"
            )
            == 800
        ),
        msg="the screenshot loads",
    )
    assert [c["placeholder"] for c in rest] == [c["title"] for c in rest], "drawn placeholders for the others"
    status, _ = http_get(duo.url_for("/screenshots/nope.png"))
    assert status == 404
    status, body = http_get(duo.url_for("/screenshots/..%2f..%2fsetup.png"))
    assert status == 404 or (status == 200 and "_dash-config" in body), "no file outside screenshots/"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(duo.url_for("/screenshots/grid_stream.png"), timeout=5) as response:
        assert response.headers["Content-Type"] == "image/png"
        assert response.read() == (shots / "grid_stream.png").read_bytes()
    assert duo.driver.execute_script("return document.querySelector('.hero img').naturalWidth") > 0  # the logo
    assert duo.get_logs() == []


def test_every_example_has_a_small_screenshot() -> None:
    from examples.__main__ import EXAMPLES

    for module, *_ in EXAMPLES:
        path = ROOT / "examples" / "screenshots" / f"{module}.png"
        assert path.is_file(), f"no screenshot for {module}: run python scripts/screenshots.py {module}"
        with Image.open(path) as image:
            assert image.size == (800, 500), (module, image.size)
        assert path.stat().st_size < 150_000, (module, path.stat().st_size)
