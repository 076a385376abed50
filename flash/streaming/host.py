"""What the streaming layer needs from the app: `StreamHost`, the server layer's `ServerHost` plus
the app's streams and their settings. `Flash` satisfies it (mypy checks: `Flash.as_stream_host`).

Why: `flash/streaming` sits below the app and may not import `flash.app` (not even for
annotations) nor call the app's private methods (tests/unit/test_host_protocol.py). What it
reads of the app is listed here, once; a member this layer starts to use is added here first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..server.host import CallbackFigures, ServerHost

if TYPE_CHECKING:
    from .declare.spec import EventCallbackSpec
    from .wire.downlink import DownlinkRegistry
    from .wire.handles import Signer


class RunFigures(CallbackFigures, Protocol):
    """The worker's metrics (flash/metrics' `StreamMetrics`) as this layer counts into them:
    `DownlinkRegistry.metrics`, None when metrics are off (each hook is then one attribute check)."""

    stalled: int  # downlinks cut because their reader stopped reading

    def wrote(self, stamps: list[float] | None, frames: list[bytes] | None, size: int) -> None: ...

    def run_started(self, name: str = "", stream_id: str = "", run_id: str = "") -> Any: ...

    def run_ended(self, outcome: str, traced: Any = None, frames: int = 0) -> None: ...


class StreamHost(ServerHost, Protocol):
    """The app as `flash/streaming` sees it (flash/app.py documents each option)."""

    @property
    def streams(self) -> dict[str, EventCallbackSpec]: ...  # served streams by stream id

    @property
    def stream_runs(self) -> DownlinkRegistry: ...  # this worker's downlinks and runs

    @property
    def stream_signer(self) -> Signer: ...  # signs the run handles and downlink tokens

    @property
    def stream_heartbeat(self) -> float: ...

    @property
    def stream_replay_size(self) -> int: ...

    @property
    def stream_resume_window(self) -> float: ...

    @property
    def stream_give_up(self) -> float: ...

    @property
    def streams_taken(self) -> bool: ...  # the first request took the pending streams (later ones wire at once)

    def add_streams(self, specs: list[EventCallbackSpec]) -> None: ...  # serve and wire these

    def take_streams(self) -> None: ...  # serve and wire every stream declared so far (first request)

    def clientside_callback(self, clientside_function: Any, *args: Any, **kwargs: Any) -> Any: ...  # Dash's
