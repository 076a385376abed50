"""The app's public face to the layers below it: what `flash/server` and `flash/streaming` read of
the app besides Dash's own attributes (their protocols: server/host.py, streaming/host.py).

Why a mixin of its own: the lower layers call no private method of the app (a rename in the app
would break them silently, and the layering test could not tell); these public members are the
only door, each delegating to what the app keeps privately. `Flash` inherits them (flash/app.py),
and mypy checks there that `Flash` is a `StreamHost`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Awaitable, Callable


class AppHost:
    """Mixed into `Flash`, which sets these attributes in its constructor and `_setup_server`."""

    _setup_done: bool  # Dash's and the pages router's first-request setup both finished
    _serving_loop: asyncio.AbstractEventLoop | None  # the loop serving the app (set by `_setup_server`)

    if TYPE_CHECKING:  # Flash's (overriding Dash's): declared for mypy only, so the MRO still reaches Dash's

        async def _setup_server(self) -> None: ...

        def _initialize_context(self, body: Any) -> Any: ...

    @property
    def setup_done(self) -> bool:
        """Whether the first-request setup has finished (until then requests take Quart's path)."""
        return self._setup_done

    @property
    def setup_hook(self) -> Callable[[], Awaitable[None]]:
        """The first-request setup, the one `before_request` hook Dash registers on the server
        (server/direct.py: any other hook means the direct path must step aside)."""
        return self._setup_server

    @property
    def serving_loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop serving the app, once it serves (where async layouts and MCP calls run)."""
        return self._serving_loop

    def callback_context(self, body: dict[str, Any]) -> Any:
        """Dash's callback context for a callback or stream-start request body (Dash's
        `_initialize_context`, as Flash overrides it: request details read lazily)."""
        return self._initialize_context(body)
