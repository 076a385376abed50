"""What the server layer needs from the app: `ServerHost`, a typed protocol that `Flash` satisfies.

Why a protocol: `flash/server` sits below the app (tests/unit/test_import_layers.py), so it may not
import `flash.app`, not even for annotations, and it calls no private method of the app
(tests/unit/test_host_protocol.py checks both). Every attribute and method of the app that this
layer reads is listed here, once; mypy checks that `Flash` has each of them with this type
(`Flash.as_stream_host`: a StreamHost is a ServerHost). A member this layer starts to use is added
here first. Read-only members are properties: the app may hold a plain attribute (of this type or
a narrower one).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, Protocol, Sequence, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from quart import Quart

    from ..compat.dash import AttributeDict
    from .backend import FlashServer
    from .limits import Limits
    from .page_cache import PageCache

T = TypeVar("T")


class StoppableRun(Protocol):
    """One stream run, as shutdown.py closes it (streaming/run/runs.py's `StreamRun`)."""

    @property
    def closing(self) -> bool: ...

    @property
    def task(self) -> asyncio.Task[Any] | None: ...

    def close(self) -> None: ...


class HasListener(Protocol):
    """One downlink, as shutdown.py counts the open ones (streaming/wire/downlink.py's `Downlink`)."""

    @property
    def listener(self) -> object | None: ...


class Drains(Protocol):
    """The cross-worker stream bus, as shutdown.py waits for its last writes (streaming/bus/stream_bus.py)."""

    async def drain(self) -> None: ...


class CallbackTracing(Protocol):
    """One span per callback request (flash/metrics/tracing.py's `CallbackTracer`)."""

    async def trace(self, body: dict[str, Any], steps: Callable[[Any], Awaitable[T]]) -> T: ...


class CallbackFigures(Protocol):
    """The worker's metrics (flash/metrics' `StreamMetrics`), as dispatch.py reads them."""

    @property
    def callback_tracer(self) -> CallbackTracing | None: ...


class StreamRegistry(Protocol):
    """The app's stream registry (streaming/wire/downlink.py's `DownlinkRegistry`) as this layer uses
    it: a stopping worker ends it (shutdown.py) and the callback view reads its metrics
    (dispatch.py), without knowing how streams run."""

    closing: bool  # set: refuse new downlinks and runs

    @property
    def metrics(self) -> CallbackFigures | None: ...  # None: metrics are off

    @property
    def downlinks(self) -> Mapping[str, HasListener]: ...

    @property
    def bus(self) -> Drains | None: ...

    def shut_down(self, final: bytes) -> list[asyncio.Task[Any]]: ...

    def runs(self) -> Sequence[StoppableRun]: ...


@runtime_checkable
class ServerHost(Protocol):
    """The app as `flash/server` sees it. Dash's own members (config, server, callback_map, ...)
    keep Dash's meaning; the others are Flash's (flash/app.py documents each)."""

    # --- Dash's -------------------------------------------------------------------------------
    @property
    def config(self) -> AttributeDict: ...

    @property
    def server(self) -> Quart: ...

    @property
    def callback_map(self) -> dict[str, Any]: ...

    @property
    def logger(self) -> logging.Logger: ...

    @property
    def title(self) -> str: ...

    @property
    def index_string(self) -> str: ...

    @property
    def use_pages(self) -> bool: ...

    @property
    def routes(self) -> list[str]: ...  # the endpoints Dash's `_add_url` registered

    @property
    def registered_paths(self) -> dict[str, set[str]]: ...  # component-suite files a page may load

    def index(self, *args: Any, **kwargs: Any) -> Any: ...  # Dash's page view

    # --- Flash's ------------------------------------------------------------------------------
    @property
    def backend(self) -> FlashServer: ...

    @property
    def limits(self) -> Limits: ...

    @property
    def page_cache(self) -> PageCache: ...

    @property
    def layout_version(self) -> int: ...  # bumped by every `app.layout = ...`

    @property
    def direct_path_enabled(self) -> bool: ...

    @property
    def access_log(self) -> bool | None: ...

    @property
    def silence_routes_logging(self) -> bool | None: ...

    @property
    def stream_runs(self) -> StreamRegistry: ...

    @property
    def setup_done(self) -> bool: ...  # the first-request setup (Dash's and the pages router's) finished

    @property
    def setup_hook(self) -> Callable[[], Awaitable[None]]: ...  # that setup: the one before_request hook

    @property
    def serving_loop(self) -> asyncio.AbstractEventLoop | None: ...  # the loop serving the app, once it serves

    def callback_context(self, body: dict[str, Any]) -> Any: ...  # Dash's callback context for a request body


def as_host(dash_app: object) -> ServerHost:
    """`dash_app` (which Dash's backend interface types as a `Dash`) as the server layer's host;
    a TypeError for an app that is not one (a plain `dash.Dash` given Flash's backend)."""
    if not isinstance(dash_app, ServerHost):
        raise TypeError(f"Flash's server backend serves Flash apps, not {type(dash_app).__name__}.")
    return dash_app
