"""What a run sends down the downlink, as the stream test harness (`streams.py`) hands it back.

Why a module of its own: these are plain data helpers (no app, no event loop) that tests assert
on, and the harness that fills them is long enough by itself.
"""

from __future__ import annotations

import json
from typing import Any, Callable, NamedTuple

FINAL_EVENTS = ("done", "error", "gone")


def prop_id(component_id: Any, prop: str) -> str:
    """`"out.children"`; a dict id as Dash writes it in `changedPropIds` (sorted, compact JSON)."""
    if isinstance(component_id, dict):  # a wildcard (ALL, MATCH) as Dash's registry writes it: ["ALL"]
        component_id = json.dumps(
            component_id, sort_keys=True, separators=(",", ":"), default=lambda value: json.loads(value.to_json())
        )
    return f"{component_id}.{prop}"


class Frame(NamedTuple):
    """One message of one run: `event` is `props`, or the final `done`, `error` or `gone`."""

    event: str
    run: str
    seq: int
    data: Any

    @property
    def final(self) -> bool:
        return self.event in FINAL_EVENTS

    @property
    def updates(self) -> dict[str, Any]:
        """A `props` frame's updates as `{"out.children": value, ...}` (`{}` for other events);
        a prop set twice in one frame keeps its last value."""
        if self.event != "props":
            return {}
        return {prop_id(component_id, name): value for component_id, props in self.data for name, value in props.items()}


class Frames(list[Frame]):
    """A run's frames in the order received, with shorthands for asserting on them."""

    @property
    def events(self) -> list[str]:
        return [frame.event for frame in self]

    @property
    def seqs(self) -> list[int]:
        return [frame.seq for frame in self]

    @property
    def last(self) -> Frame | None:
        return self[-1] if self else None

    @property
    def ended(self) -> bool:
        """The run's final frame (`done`, `error` or `gone`) has arrived."""
        return bool(self) and self[-1].final

    @property
    def closed(self) -> bool:
        """It ended because it was closed (a cancel, its page going away): `done {"closed": true}`."""
        last = self.last
        return last is not None and last.event == "done" and last.data == {"closed": True}

    @property
    def error(self) -> dict[str, Any] | None:
        """The `error` frame's data (`message`, `handled`, and in debug mode `traceback`), if any."""
        last = self.last
        return last.data if last is not None and last.event == "error" else None

    def updates(self) -> list[dict[str, Any]]:
        """Each `props` frame's updates (see `Frame.updates`), in order."""
        return [frame.updates for frame in self if frame.event == "props"]

    def values(self, target: str, prop: str | None = None) -> list[Any]:
        """Every value one prop took, in order: `values("out.children")` or `values("out", "children")`."""
        key = target if prop is None else prop_id(target, prop)
        return [update[key] for update in self.updates() if key in update]

    def latest(self) -> dict[str, Any]:
        """The last value each prop took: what the page shows once every frame is applied
        (`Patch` values are kept as sent, not applied)."""
        merged: dict[str, Any] = {}
        for update in self.updates():
            merged.update(update)
        return merged

    def where(self, predicate: Callable[[Frame], bool]) -> "Frames":
        return Frames(frame for frame in self if predicate(frame))

    def assert_complete(self, first_seq: int = 1) -> "Frames":
        """Assert the frames are numbered `first_seq, first_seq + 1, ...` without a gap or a repeat
        and end with exactly one final event; returns the frames."""
        expected = list(range(first_seq, first_seq + len(self)))
        assert self.seqs == expected, f"sequence ids {self.seqs}, expected {expected}"
        finals = [index for index, frame in enumerate(self) if frame.final]
        assert finals == [len(self) - 1], f"expected one final event, at the end: {self.events}"
        return self
