"""Pop up dash-mantine-components notifications from a stream: ``yield notify("Done")``.

dmc 2.x shows notifications through a ``dmc.NotificationContainer``: whatever list of dicts its
``sendNotifications`` prop receives is shown, and the component then resets the prop to ``[]``.
A plain ``stream_props("notifications", {"sendNotifications": [...]})`` works for one
notification at a time, but Flash applies the updates that arrive within one animation frame
together, and a plain value replaces the one before it: two notifications yielded back to back
(``started`` right before the first rows) would show only the second. The helpers here send a
``Patch`` that *appends* to the prop instead; Patches to one prop in a frame are joined, so every
notification shows. Each gets an id (yours or a fresh one), so ``update_notification`` can
change it later and a notification is never shown twice.

    app.layout = dmc.MantineProvider([notifications_container(), ...])

    @event_callback(Input("start", "n_clicks"))
    async def run(n_clicks):
        yield notify("Loading rows...", title="Started", id="job", loading=True, autoClose=False)
        ...
        yield update_notification("job", "10,000 rows loaded.", title="Done", color="green",
                                  loading=False, autoClose=4000)

Keyword options are dmc's notification keys, passed as they are (``color``, ``autoClose``,
``loading``, ``withBorder``, ``position``, ``icon``...); ``message``, ``title`` and ``icon`` may be
components. `notification(...)` returns the ``(id, props)`` pair itself, for a larger
``stream_props([...])`` batch or for ``reset_props`` (a "Cancelled" notification on cancel:
``reset_props=[..., notification("Stopped", id="job", update=True, color="orange")]``).
"""

from __future__ import annotations

import importlib
import uuid
from typing import Any

from dash import Patch

from .streaming.declare.props import ComponentId, StreamProps, Update, stream_props

__all__ = ["CONTAINER_ID", "hide_notification", "notification", "notifications_container", "notify", "update_notification"]

CONTAINER_ID = "notifications"
_POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right", "top-center", "bottom-center")


def notifications_container(id: ComponentId = CONTAINER_ID, **props: Any) -> Any:  # noqa: A002
    """A ``dmc.NotificationContainer`` the helpers can append to.

    Its ``sendNotifications`` and ``hideNotifications`` start as ``[]``: Dash cannot apply a
    ``Patch`` to a prop that was never set. Put it inside your ``dmc.MantineProvider``; other
    props (``position``, ``limit``, ``autoClose``...) are the container's own.
    """
    dmc = importlib.import_module("dash_mantine_components")  # an optional dependency
    props.setdefault("sendNotifications", [])
    props.setdefault("hideNotifications", [])
    return dmc.NotificationContainer(id=id, **props)


def _entry(message: Any, title: Any, id: str | None, action: str, options: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    position = options.get("position")
    if position is not None and position not in _POSITIONS:
        raise ValueError(f"position must be one of {', '.join(_POSITIONS)}; got {position!r}")
    if "action" in options:
        raise TypeError("Pass no action=: notify(...) shows, update_notification(...) or update=True updates.")
    entry: dict[str, Any] = {"action": action, "id": id or f"flash-{uuid.uuid4().hex[:12]}", "message": message}
    if title is not None:
        entry["title"] = title
    entry.update(options)
    return entry


def notification(
    message: Any,
    title: Any = None,
    *,
    id: str | None = None,  # noqa: A002
    update: bool = False,
    container: ComponentId = CONTAINER_ID,
    **options: Any,
) -> Update:
    """The ``(container id, props)`` pair for one notification, to put in a ``stream_props``
    batch or in ``reset_props``: ``yield stream_props([("grid", {...}), notification("1,000 rows")])``.

    With ``id=``, a notification with that id still on screen is changed into this one (Mantine
    would ignore a second show of the same id); ``update=True`` only changes it, if it is there.
    """
    if update:
        if not id:
            raise ValueError("Updating a notification needs the id it was shown with.")
        return _send(container, [_entry(message, title, id, "update", options)])
    entry = _entry(message, title, id, "show", options)
    entries = [entry, {**entry, "action": "update"}] if id else [entry]
    return _send(container, entries)


def notify(
    message: Any,
    title: Any = None,
    *,
    id: str | None = None,  # noqa: A002
    container: ComponentId = CONTAINER_ID,
    **options: Any,
) -> StreamProps:
    """``yield notify("Done", color="green")``: show a notification from an event callback."""
    return stream_props([notification(message, title, id=id, container=container, **options)])


def update_notification(
    id: str,
    message: Any,
    title: Any = None,
    *,  # noqa: A002
    container: ComponentId = CONTAINER_ID,
    **options: Any,
) -> StreamProps:
    """Change a notification shown with ``notify(..., id=id)`` (e.g. a loading one that is done);
    Mantine ignores an update for a notification that is no longer shown."""
    return stream_props([notification(message, title, id=id, update=True, container=container, **options)])


def hide_notification(id: str, *, container: ComponentId = CONTAINER_ID) -> StreamProps:  # noqa: A002
    """Close the notification shown with ``notify(..., id=id)``."""
    if not id:
        raise ValueError("hide_notification needs the id the notification was shown with.")
    patch = Patch()
    patch.append(id)
    return stream_props([(container, {"hideNotifications": patch})])


def _send(container: ComponentId, entries: list[dict[str, Any]]) -> Update:
    patch = Patch()
    patch.extend(entries)
    return container, {"sendNotifications": patch}
