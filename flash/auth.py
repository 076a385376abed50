"""HTTP basic auth for Flash apps, with dash-auth's `BasicAuth` arguments.

dash-auth is built on Flask (`flask.request`, `flask.session` in a sync `before_request`), so on
a Quart server every request fails with "Working outside of request context". This is the same
idea on Quart: `BasicAuth(app, {"user": "password"})` asks every request for credentials except
public routes (Dash's scripts, layout and dependencies, `.js`/`.css` assets, and the routes you
add), and Dash's websocket callbacks. The check is a `before_request` hook, so callbacks take
Quart's full path instead of Flash's direct one (the direct path only runs hook-free apps).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import inspect
import logging
import os
from typing import TYPE_CHECKING, Awaitable, Callable, Iterable, Mapping, Union

from quart import Response, request, session, websocket
from werkzeug.routing import Map, MapAdapter, Rule

from .server.body import parse_json_body
from .server.errors import RequestError
from .server.threads import run_in_thread

if TYPE_CHECKING:
    from .app import Flash

UserGroups = Mapping[str, list[str]]
AuthFunc = Callable[[str, str], Union[bool, Awaitable[bool]]]
LOGGER = logging.getLogger("flash.auth")
PUBLIC_ROUTES = "PUBLIC_ROUTES"  # server.config keys, as dash-auth names them
PUBLIC_CALLBACKS = "PUBLIC_CALLBACKS"


def _base_public_routes(prefix: str) -> list[str]:
    extensions = os.environ.get("DASH_PUBLIC_ASSETS_EXTENSIONS", "js,css").split(",")
    routes = [f"assets/<path:path>.{ext.strip()}" for ext in extensions if ext.strip()]
    routes += ["_dash-component-suites/<path:path>", "_dash-layout", "_dash-dependencies", "_favicon.ico", "_reload-hash"]
    return [prefix + route for route in routes]


def get_public_routes(app: "Flash") -> MapAdapter:
    """The app's public routes (a werkzeug map: `.test(path)` says whether `path` is public)."""
    routes: MapAdapter = app.server.config.get(PUBLIC_ROUTES) or Map([]).bind("")
    return routes


def add_public_routes(app: "Flash", routes: Iterable[str]) -> None:
    """Make `routes` (Quart/Flask route syntax: "/login", "/user/<user_id>/public") public.
    The first call adds Dash's own public routes (scripts, layout, dependencies, js/css assets)."""
    public = get_public_routes(app)
    new = list(routes)
    if next(public.map.iter_rules(), None) is None:  # an empty map: Dash's routes are not in yet
        new = _base_public_routes(app.config.routes_pathname_prefix) + new
    for route in new:
        public.map.add(Rule(route))
    app.server.config[PUBLIC_ROUTES] = public


def _credentials(header: str | None) -> tuple[str, str] | None:
    """(username, password) of a `Basic` Authorization header; None if absent or malformed."""
    if not header or not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


class BasicAuth:
    """Ask for a username and password (HTTP basic auth) on every non-public route.

    :param app: the Flash app.
    :param username_password_list: ``{"user": "password"}`` or ``[("user", "password"), ...]``.
    :param auth_func: ``auth_func(username, password) -> bool`` instead of a list; may be
        ``async def`` (a sync one runs in the thread pool, as sync callbacks do).
    :param public_routes: routes open without credentials (Quart route syntax).
    :param user_groups: ``{"user": ["group", ...]}`` or a function of the username returning the
        groups; stored with the user in the session (``session["user"]``) when a secret key is set.
    :param secret_key: the Quart session's secret key (needed to keep the user in the session).
    """

    def __init__(
        self,
        app: "Flash",
        username_password_list: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        auth_func: AuthFunc | None = None,
        public_routes: Iterable[str] | None = None,
        user_groups: UserGroups | Callable[[str], list[str]] | None = None,
        secret_key: str | None = None,
    ) -> None:
        if auth_func is not None and username_password_list is not None:
            raise ValueError("BasicAuth takes either auth_func or username_password_list, not both.")
        if auth_func is None and username_password_list is None:
            raise ValueError("BasicAuth needs a username/password map or an auth_func(username, password).")
        self.app = app
        self._auth_func = auth_func
        self._users = dict(username_password_list) if username_password_list is not None else {}
        self._user_groups = user_groups
        if secret_key is not None:
            app.server.secret_key = secret_key
        add_public_routes(app, public_routes or [])
        app.server.before_request(self._check_request)
        app.server.before_websocket(self._check_websocket)

    async def _check_request(self) -> Response | None:
        if get_public_routes(self.app).test(request.path):
            return None
        if await self.is_authorized(request.headers.get("Authorization")):
            return None
        if request.path == self.app.config.routes_pathname_prefix + "_dash-update-component" and await self._public_callback():
            return None
        return self.login_request()

    async def _check_websocket(self) -> Response | None:
        if get_public_routes(self.app).test(websocket.path):
            return None
        if await self.is_authorized(websocket.headers.get("Authorization")):
            return None
        return self.login_request()

    async def _public_callback(self) -> bool:
        """Whether an unauthenticated callback is public: its output is listed in
        `server.config["PUBLIC_CALLBACKS"]`, or it routes (a `pathname` input) to a public page.
        Only read when such things exist; the body stays cached for the callback view."""
        callbacks = self.app.server.config.get(PUBLIC_CALLBACKS) or []
        routes = get_public_routes(self.app)
        base = set(_base_public_routes(self.app.config.routes_pathname_prefix))
        if not callbacks and all(rule.rule in base for rule in routes.map.iter_rules()):
            return False
        data = await request.get_data(cache=True, as_text=False, parse_form_data=False)
        try:
            body = parse_json_body(data, max_depth=self.app.limits.max_json_depth)
        except RequestError:
            return False
        if not isinstance(body, dict):
            return False
        if body.get("output") in callbacks:
            return True
        inputs = body.get("inputs")
        if not isinstance(inputs, list):
            return False
        pathname = next(
            (item.get("value") for item in inputs if isinstance(item, dict) and item.get("property") == "pathname"), None
        )
        return isinstance(pathname, str) and bool(routes.test(pathname))

    async def is_authorized(self, header: str | None) -> bool:
        """Whether the Authorization header names a known user with the right password."""
        credentials = _credentials(header)
        if credentials is None:
            return False
        username, password = credentials
        if self._auth_func is not None:
            try:
                if inspect.iscoroutinefunction(self._auth_func):
                    authorized = await self._auth_func(username, password)
                else:
                    authorized = await run_in_thread(self.app.backend.executor, self._auth_func, username, password)
                    if inspect.isawaitable(authorized):
                        authorized = await authorized
            except Exception:  # a failing check is a refusal
                LOGGER.exception("Error in the BasicAuth auth_func.")
                return False
        else:
            expected = self._users.get(username)
            authorized = expected is not None and hmac.compare_digest(expected.encode("utf-8"), password.encode("utf-8"))
        if authorized:
            self._remember(username)
        return bool(authorized)

    def _remember(self, username: str) -> None:
        if not self.app.server.secret_key:
            return
        groups = self._user_groups
        found = groups(username) if callable(groups) else (groups or {}).get(username, [])
        session["user"] = {"email": username, "groups": list(found or [])}

    def login_request(self) -> Response:
        """The 401 that makes the browser ask for a username and password."""
        return Response(
            "Login Required",
            status=401,
            content_type="text/plain; charset=utf-8",
            headers={"WWW-Authenticate": 'Basic realm="User Visible Realm"'},
        )
