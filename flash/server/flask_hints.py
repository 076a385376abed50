"""Say the Quart way when Flask-only code runs in a Flash app.

Flash's server is Quart, not Flask: `flask.request`, `flask.session`, `flask.g` and the Flask
extensions built on them have no context there and raise Flask's "Working outside of request
context", which reads as a Flash bug. Two places turn that into advice:

- `add_flask_hint(err)`, called by the server's error handler, adds a note (PEP 678: it shows in
  the logged traceback and in dev tools) to such an error raised while serving a Flash app;
  a real Flask app in the same process never reaches this handler, so it is not affected.
- `check_flask_hooks(server)`, at server start, refuses request hooks that Flask code
  (dash-auth, flask-cors, ...) registered on the Quart server: every request would fail.
"""

from __future__ import annotations

import traceback
from typing import Any, Iterable

_FLASK_CONTEXT_ERRORS = ("Working outside of request context", "Working outside of application context")
QUART_WAY = (
    "Flash runs on Quart, not Flask: `flask.request`, `flask.session`, `flask.g` and Flask "
    "extensions have no context here. In a route or hook use `from quart import request` "
    "(`await request.get_json()`, `request.headers`), `quart.session`, `quart.g`; in a callback "
    "use `flash.ctx` / `callback_context` (`ctx.triggered_id`, `ctx.inputs`) or quart.request. "
    "For Flask extensions use their Quart counterparts (e.g. quart-cors, quart-auth)."
)
DASH_AUTH_WAY = (
    "dash-auth is built on Flask and does not work on Flash: use `from flash.auth import "
    "BasicAuth` (the same arguments: `BasicAuth(app, {'user': 'password'})`)."
)


class FlaskHookError(RuntimeError):
    """Flask code registered a request hook on a Flash (Quart) server."""


def _is_flask_context_error(err: BaseException) -> bool:
    return isinstance(err, RuntimeError) and str(err).startswith(_FLASK_CONTEXT_ERRORS)


def _modules(err: BaseException) -> list[str]:
    """Module names of the frames the error passed through, innermost last."""
    return [str(frame.f_globals.get("__name__", "")) for frame, _ in traceback.walk_tb(err.__traceback__)]


def _from(modules: Iterable[str], package: str) -> bool:
    return any(name == package or name.startswith(package + ".") for name in modules)


def add_flask_hint(err: BaseException) -> None:
    """Note on `err` how to do it the Quart way, if it is Flask's missing-context error."""
    if not _is_flask_context_error(err) or getattr(err, "_flash_hinted", False):
        return
    err._flash_hinted = True  # type: ignore[attr-defined]  # once, though handlers may see it twice
    err.add_note(DASH_AUTH_WAY if _from(_modules(err), "dash_auth") else QUART_WAY)


def _hook_owner(func: Any) -> str:
    """The top-level package a hook function comes from."""
    module = getattr(func, "__module__", None) or ""
    return module.split(".", 1)[0]


def _hook_functions(server: Any) -> Iterable[Any]:
    for name in (
        "before_request_funcs",
        "after_request_funcs",
        "teardown_request_funcs",
        "before_websocket_funcs",
        "after_websocket_funcs",
    ):
        for funcs in getattr(server, name, {}).values():
            yield from funcs


def check_flask_hooks(server: Any) -> None:
    """Raise `FlaskHookError` if dash-auth or a Flask extension hooked the Quart server."""
    for func in _hook_functions(server):
        owner = _hook_owner(func)
        if owner == "dash_auth":
            raise FlaskHookError(DASH_AUTH_WAY)
        if owner == "flask" or owner.startswith("flask_"):
            raise FlaskHookError(
                f"{owner} registered a request hook ({getattr(func, '__qualname__', func)!r}) on the "
                f"Flash app's Quart server; Flask extensions do not work on Flash. " + QUART_WAY
            )
