"""What a worker does once, before it serves its first request.

Dash registers the files a page may load (`app.registered_paths`: the component registry the
`_dash-component-suites` route serves from) while it renders a page. A worker that had not yet
rendered one answered 404 "Unknown component package" to a browser whose page came from another
worker, or to requests racing its first page. Rendering the page once at startup (with a
placeholder request, in the thread pool like any sync page work) makes the registry ready before
serving; the first-request setup still runs as Dash runs it. Flask-only request hooks are refused
here too (see flask_hints.py), so such an app fails at startup instead of on every request. And
the logs escape exception text from the start (logsafe.py). A startup that fails says why in
one line, last (startup_failure.py).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from quart import Quart

from .devserver import flash_banner
from .flask_hints import check_flask_hooks
from .internal_request import internal_request_context
from .logsafe import escape_log_text
from .startup_failure import install_startup_failure
from .threads import run_in_thread

if TYPE_CHECKING:
    from .host import ServerHost

LOGGER = logging.getLogger("flash.server")


async def register_page_resources(app: "ServerHost") -> bool:
    """Render the index once so every script and stylesheet it names is registered; False (and
    a warning) if that failed: the first page load then registers them, as in Dash."""
    server = app.server
    try:
        async with internal_request_context(server, app.config.routes_pathname_prefix):
            await run_in_thread(app.backend.executor, app.index)
    except Exception:  # the first page load will show the error
        LOGGER.warning(
            "Could not render the page at startup; its resources register on the first page load instead.", exc_info=True
        )
        return False
    return True


def install_startup(app: "ServerHost", server: Quart) -> None:
    """Register the once-per-worker startup on `server` (once per app and server)."""
    flash_banner(app.logger, hold=True)  # said once `app.run()` has the port (devserver.py)
    escape_log_text([server.logger])  # exception text in Flash's and the server's logs: one line
    install_startup_failure(server)
    if getattr(server, "_flash_startup", None) is app:
        return

    async def before_serving() -> None:
        check_flask_hooks(server)
        await register_page_resources(app)

    server._flash_startup = app  # type: ignore[attr-defined]
    server.before_serving(before_serving)
