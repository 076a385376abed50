"""flash.notifications: what each helper puts on the wire for dmc's NotificationContainer.

The browser side (that Mantine really shows them, two in one frame included) is in
tests/integration/test_gallery_browser.py.
"""

from __future__ import annotations

import json

import pytest

from flash import Patch
from flash.notifications import hide_notification, notification, notifications_container, notify, update_notification
from flash.server.jsonfast import dumps
from flash.streaming.declare.props import StreamProps


def operations(props: dict, name: str) -> list[dict]:
    patch = props[name]
    assert isinstance(patch, Patch), "a Patch, so that two notifications in one frame both show"
    return patch.to_plotly_json()["operations"]


def entries(update) -> list[dict]:
    """The notification dicts one helper call appends to sendNotifications."""
    [(_, props)] = update.updates if isinstance(update, StreamProps) else [update]
    [op] = operations(props, "sendNotifications")
    assert op["operation"] == "Extend" and op["location"] == []
    return op["params"]["value"]


def test_notify_appends_one_show_entry_to_the_container() -> None:
    update = notify("1,000 rows loaded", title="Progress", color="blue", autoClose=3000)
    assert isinstance(update, StreamProps)
    [(container, props)] = update.updates
    assert container == "notifications" and list(props) == ["sendNotifications"]
    [entry] = entries(update)
    assert entry["action"] == "show"
    assert entry["id"].startswith("flash-")
    assert {k: entry[k] for k in ("message", "title", "color", "autoClose")} == {
        "message": "1,000 rows loaded",
        "title": "Progress",
        "color": "blue",
        "autoClose": 3000,
    }


def test_every_notification_gets_its_own_id_unless_given() -> None:
    ids = {entries(notify("x"))[0]["id"] for _ in range(2)}
    assert len(ids) == 2


def test_with_an_id_a_shown_notification_of_that_id_becomes_this_one() -> None:
    """Mantine ignores a second show of an id on screen; the helper follows it with an update."""
    show, update = entries(notify("again", "Started", id="job", loading=True))
    assert show == {"action": "show", "id": "job", "message": "again", "title": "Started", "loading": True}
    assert update == {**show, "action": "update"}


def test_no_title_key_when_no_title() -> None:
    assert "title" not in entries(notify("plain"))[0]


def test_notification_is_a_batch_entry_for_another_container() -> None:
    pair = notification("done", container={"type": "notes", "page": 1}, color="green")
    assert pair[0] == {"type": "notes", "page": 1}
    batch = StreamProps([("grid", {"rowData": []}), pair])
    assert [cid for cid, _ in batch.updates] == ["grid", {"type": "notes", "page": 1}]


def test_update_notification_and_hide() -> None:
    update = update_notification("job", "Done", title="Finished", loading=False)
    assert entries(update) == [{"action": "update", "id": "job", "message": "Done", "title": "Finished", "loading": False}]
    pair = notification("Stopped", id="job", update=True, color="orange")  # e.g. for reset_props
    assert entries(pair) == [{"action": "update", "id": "job", "message": "Stopped", "color": "orange"}]
    [(container, props)] = hide_notification("job").updates
    assert container == "notifications"
    assert operations(props, "hideNotifications") == [{"operation": "Append", "location": [], "params": {"value": "job"}}]


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: update_notification("", "x"), ValueError),
        (lambda: hide_notification(""), ValueError),
        (lambda: notification("x", update=True), ValueError),
        (lambda: notify("x", position="middle"), ValueError),
        (lambda: notify("x", action="update"), TypeError),
    ],
)
def test_misuse_fails_at_once(call, error) -> None:
    with pytest.raises(error):
        call()


def test_the_wire_form_is_json_with_components_inside() -> None:
    from flash import html

    update = notify(html.B("bold", id="msg"), title="T")
    wire = json.loads(dumps(update.to_wire()))
    [value] = wire[0][1]["sendNotifications"]["operations"][0]["params"]["value"]
    assert value["message"]["type"] == "B" and value["message"]["props"]["children"] == "bold"


def test_the_container_starts_with_empty_lists_so_patches_apply() -> None:
    container = notifications_container(position="top-right", limit=3)
    assert type(container).__name__ == "NotificationContainer"
    assert container.id == "notifications"
    assert container.sendNotifications == [] and container.hideNotifications == []
    assert container.position == "top-right" and container.limit == 3
    assert notifications_container("other", sendNotifications=None).sendNotifications is None
