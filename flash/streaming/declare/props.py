"""`stream_props(...)`: what an event callback yields to update component props in the browser."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence  # not typing's: isinstance on them is 3x slower
from typing import Any, Union

from ...exceptions import StreamError

ComponentId = Union[str, Mapping[str, Any]]
Update = tuple[ComponentId, Mapping[str, Any]]

_FORMS = (
    'stream_props("id", {"prop": value}), stream_props(component_id="id", props={...}), '
    'stream_props([("id", {...}), ...]) or stream_props(batch=[("id", {...}), ...])'
)


class StreamProps:
    """An ordered batch of (component id, props) updates, applied in one animation frame."""

    __slots__ = ("updates",)

    def __init__(self, updates: list[Update]) -> None:
        self.updates = updates

    def __repr__(self) -> str:
        return f"stream_props({self.updates!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StreamProps) and other.updates == self.updates

    def to_wire(self) -> list[list[Any]]:
        return [[component_id, dict(props)] for component_id, props in self.updates]


def _check_update(component_id: Any, props: Any) -> Update:
    if not isinstance(component_id, (str, Mapping)) or not component_id:
        raise StreamError(
            f"A component id must be a non-empty string or a dict (pattern-matching id), got {component_id!r}. Use {_FORMS}."
        )
    if not isinstance(props, Mapping):
        raise StreamError(
            f"The props for {component_id!r} must be a dict of prop name to value, got {type(props).__name__}. Use {_FORMS}."
        )
    if not all(isinstance(name, str) for name in props):
        raise StreamError(f"Prop names for {component_id!r} must be strings.")
    return component_id, props


def _check_batch(batch: Any) -> list[Update]:
    if isinstance(batch, (str, bytes, Mapping)) or not isinstance(batch, Iterable):
        raise StreamError(f"A batch must be a list of (id, props) pairs. Use {_FORMS}.")
    updates = []
    for entry in batch:
        if not isinstance(entry, Sequence) or isinstance(entry, str) or len(entry) != 2:
            raise StreamError(f"Each batch entry must be an (id, props) pair, got {entry!r}. Use {_FORMS}.")
        updates.append(_check_update(entry[0], entry[1]))
    return updates


def stream_props(
    component_id: Any = None,
    props: Mapping[str, Any] | None = None,
    *,
    batch: Iterable[Update] | None = None,
) -> StreamProps:
    """Build an update for `yield` in an event callback.

    Values follow Dash's JSON rules: components, figures, numpy/pandas values and `Patch`
    objects (e.g. ``Patch().append(token)``) all work.
    """
    if batch is not None:
        if component_id is not None or props is not None:
            raise StreamError(f"Pass either batch=... or an id with props, not both. Use {_FORMS}.")
        return StreamProps(_check_batch(batch))
    if props is None:
        if isinstance(component_id, (list, tuple)):
            return StreamProps(_check_batch(component_id))
        raise StreamError(f"stream_props needs props for {component_id!r}. Use {_FORMS}.")
    return StreamProps([_check_update(component_id, props)])
