"""The app's side of stream declarations: `app.event_callback`, and wiring what was declared.

Why a module of its own: a stream may be declared before the app serves (it waits in the
pending list) or after its first request (it is wired at once, as Dash registers a late
`app.callback`); `Flash` inherits these methods (flash/app.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, TypeVar

from .streaming.declare.adopt import adopt_dash_streams
from .streaming.declare.decorators import _decorator
from .streaming.declare.spec import PENDING_STREAMS, EventCallbackSpec
from .streaming.declare.wiring import wire_streams

if TYPE_CHECKING:
    from .streaming.host import StreamHost

F = TypeVar("F", bound=Callable[..., Any])


class AppStreams:
    """Mixed into `Flash`, which sets these attributes in its constructor."""

    streams: dict[str, EventCallbackSpec]
    _pending_streams: list[EventCallbackSpec]  # declared, not served yet: emptied by `take_streams`
    _streams_taken: bool  # the first request took the pending streams: wire new ones at once

    @property
    def streams_taken(self) -> bool:
        """Whether the first request took the pending streams: a stream declared now is wired at once."""
        return self._streams_taken

    def event_callback(
        self,
        *dependencies: Any,
        cancel: Any = None,
        reset_props: Any = None,
        on_error: Any = None,
        prevent_initial_call: bool = True,
        restart_on_worker_loss: bool = False,
        background: bool = False,
    ) -> Any:
        """`flash.event_callback` bound to this app (see there)."""
        return self._late_streams(
            _decorator(
                self._pending_streams,
                dependencies,
                cancel,
                reset_props,
                on_error,
                prevent_initial_call,
                restart_on_worker_loss,
                background,
            )
        )

    def _late_streams(self, decorate: Callable[[F], F]) -> Callable[[F], F]:
        """A stream declared on the app after its first request is wired at once, as Dash's
        `app.callback` then registers at once: pages loaded from then on have it."""

        def late(func: F) -> F:
            func = decorate(func)
            if self._streams_taken and self._pending_streams:
                specs, self._pending_streams = self._pending_streams, []
                self.add_streams(specs)
            return func

        return late

    def take_streams(self) -> None:
        """Serve every stream declared so far (on the app, module-level, Dash 4.5's adopted ones):
        the first request does, and a Celery worker before it runs a streaming job."""
        self._streams_taken = True
        specs = self._pending_streams + PENDING_STREAMS + adopt_dash_streams()
        self._pending_streams = []
        PENDING_STREAMS.clear()
        self.add_streams(specs)

    def add_streams(self, specs: list[EventCallbackSpec]) -> None:
        """Serve `specs` and wire them into the page. The same callback declared twice (a module
        imported twice, a reloaded page) is one stream: wired once, running the latest function."""
        unique = {spec.stream_id: spec for spec in specs}
        new = [spec for stream_id, spec in unique.items() if stream_id not in self.streams]
        self.streams.update(unique)
        wire_streams(self.as_stream_host(), new)

    if TYPE_CHECKING:  # Flash's (flash/app.py): the app itself, which mypy checks is a StreamHost

        def as_stream_host(self) -> StreamHost: ...
