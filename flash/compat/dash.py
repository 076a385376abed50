"""Every private Dash name Flash uses (Dash 4.4.x and 4.5.x), each with why; `NEEDED` lists them all
(also those that `compat.dash_45`, Dash 4.5's additions, reaches; it imports no private module).

Dash has no public API for these; Flash builds on them instead of restating the code behind
them. `tests/unit/test_compat.py` checks each `NEEDED` entry against the installed Dash, so an
upgrade that removes or renames one fails there with the entry's name and purpose.

Also relied on, but not private names (Dash's documented backend interface, `BaseDashServer`):
Dash's `enable_pages` hands its pages router to `backend.before_request` (FlashServer keeps it
out of Quart's hooks, see `server/backend.py`), and `_setup_server` is registered the same way.

Underscore members of `dash.Dash` that the `Flash` subclass overrides or calls on itself
(subclass API, listed in `NEEDED` too): `_setup_server`, `_setup_routes`, `_layout_value`, `_generate_config_html`,
`_initialize_context`, `_execute_callback`, `_layout`, `_layout_is_function`, `_extra_components`,
`_add_url`.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

import dash

# Dash's global callback registry (`dash.callback` adds to it; an app's setup takes it over): a
# Dash 4.5 streaming callback registered there is taken out and run as a Flash stream instead.
# What the cached page (server/page_cache.py) mints per page load as Dash's `_config` does: the
# signed `end_id` token (Dash's signing helpers and salt), and the inputs of Dash's index it keys on.
from dash._callback import (
    GLOBAL_CALLBACK_LIST,
    GLOBAL_CALLBACK_MAP,
    GLOBAL_INLINE_SCRIPTS,  # a list Dash appends to and clears in place
)

# The class of `dash.ctx` (`dash.callback_context`): Dash 4.5 code reads `ctx.shared_storage` from
# that very object, so on a Dash without it Flash adds the property to this class
# (`add_context_property`; the module has no public name for the class).
from dash._callback_context import CallbackContext as DashCallbackContext

# The context variable holding the running callback's context (`dash.ctx` reads it); Flash sets
# it for event-callback generators and reads it for `ctx.shared_storage`.
from dash._callback_context import context_value

# (the cached page's `end_id` token: see the `dash._callback` import above)
from dash._callback_signing import END_SCOPE, sign

# The current-app variable behind `dash.get_app()`: set before layout functions run in a thread.
from dash._get_app import app_context

# Dash's page lookup: URL path -> (registry entry, path variables), and the query-string parser.
from dash._pages import _parse_query_string as parse_query_string
from dash._pages import _path_to_page as path_to_page

# `AttributeDict` is the class of Dash's callback context (Flash's lazy context subclasses it);
# `to_json` is Dash's JSON encoder (plotly's rules) that Flash's fast encoder falls back to;
# `gen_salt` makes the cached page's `end_id` salt.
from dash._utils import AttributeDict, gen_salt, to_json

# Dash's own layout and page-registry checks, run at the same points as Dash runs them.
from dash._validate import (
    check_for_duplicate_pathnames,
    validate_layout,
    validate_layout_type,
    validate_registry,
)

# Dash's Quart backend and its adapters: FlashServer subclasses the backend (Dash's Quart peer).
from dash.backends._quart import (
    QuartDashServer,
    QuartRequestAdapter,
    QuartResponseAdapter,
)

# Dash's debug-mode traceback page, used for callback errors as Dash's backends do.
from dash.backends._utils import format_traceback_html

# The ids of the components inside `dash.page_container`, which the pages router targets.
from dash.dash import _ID_CONTENT as ID_CONTENT
from dash.dash import _ID_DUMMY as ID_DUMMY
from dash.dash import _ID_LOCATION as ID_LOCATION
from dash.dash import _ID_STORE as ID_STORE

# (the inputs of Dash's index the cached page keys on: see the `dash._callback` import above)
from dash.development.base_component import ComponentRegistry

from . import Private

# Dash 4.5's additions (read on 4.5, refused with a clear error on 4.4) live in `compat.dash_45`;
# they are re-exported here, so `from flash.compat.dash import <name>` works for every name.
from .dash_45 import (
    DASH_VERSION,
    mcp_message_handler,
    mcp_url,
    needs_dash45,
    refuse_dash45_keywords,
    stream_on_error,
)

NEEDED: tuple[Private, ...] = (
    Private("dash._callback_context", "context_value", "event-callback generators run with their callback context"),
    Private("dash.testing.browser:Browser", "_wait_for", "flash_duo's waits poll every 0.2 s (compat/dash_testing.py)"),
    Private("dash._callback", "GLOBAL_CALLBACK_MAP", "dash.callback's streaming callbacks become Flash streams"),
    Private("dash._callback", "GLOBAL_CALLBACK_LIST", "dash.callback's streaming callbacks become Flash streams"),
    Private("dash._callback_context", "CallbackContext", "ctx.shared_storage (Dash 4.5) is added to dash.ctx's class"),
    Private("dash._get_app", "app_context", "layout functions in the thread pool see dash.get_app()"),
    Private("dash._pages", "_parse_query_string", "the pages router passes query parameters to page layouts"),
    Private("dash._pages", "_path_to_page", "the pages router finds the page (and path variables) for a URL"),
    Private("dash._utils", "AttributeDict", "Flash's lazy callback context subclasses Dash's"),
    Private("dash._utils", "to_json", "the JSON fast path falls back to Dash's encoder"),
    Private("dash._validate", "validate_layout", "async layouts are validated when first served"),
    Private("dash._validate", "validate_layout_type", "an async layout is type-checked when set"),
    Private("dash._validate", "validate_registry", "the pages router checks the page registry"),
    Private("dash._validate", "check_for_duplicate_pathnames", "the pages router reports duplicate paths"),
    Private("dash.backends._quart", "QuartDashServer", "FlashServer is Dash's Quart backend, subclassed"),
    Private("dash.backends._quart", "QuartRequestAdapter", "ctx request details read through Dash's adapter"),
    Private("dash.backends._quart", "QuartResponseAdapter", "ctx.response is Dash's adapter, made lazily"),
    Private("dash.backends._utils", "format_traceback_html", "debug-mode callback errors show Dash's page"),
    Private("dash.dash", "_ID_CONTENT", "the pages router's output (page content)"),
    Private("dash.dash", "_ID_DUMMY", "the pages router's title callback output"),
    Private("dash.dash", "_ID_LOCATION", "the pages router's input (dcc.Location)"),
    Private("dash.dash", "_ID_STORE", "the pages router's output (page title store)"),
    Private("dash.dash:Dash", "_initialize_context", "Flash builds Dash's callback context, then makes it lazy"),
    Private("dash.dash:Dash", "_prepare_callback", "Flash's dispatch runs Dash's callback steps"),
    Private("dash.dash:Dash", "_inputs_to_vals", "Flash's dispatch runs Dash's callback steps"),
    Private("dash.dash:Dash", "_execute_callback", "Flash's dispatch runs Dash's callback steps"),
    Private("dash.dash:Dash", "_setup_server", "Flash runs Dash's first-request setup off the loop"),
    Private("dash.dash:Dash", "_setup_routes", "Flash adds its stream routes after Dash's"),
    Private("dash.dash:Dash", "_layout_value", "Flash resolves async layouts for Dash's setup"),
    Private("dash.dash:Dash", "_add_url", "Flash's routes go through Dash's route registry (app.routes)"),
    Private("dash.dash:Dash", "_layout", "the layout as given (Flash awaits async ones)", instance=True),
    Private("dash.dash:Dash", "_layout_is_function", "set for async layouts as Dash sets it", instance=True),
    Private("dash.dash:Dash", "_extra_components", "layouts and stream wiring add Dash's extra components", instance=True),
    Private("dash.dash:Dash", "_hooks", "layout hooks (dash.hooks.layout) apply to async layouts", instance=True),
    Private("dash.dash:Dash", "_dev_tools", "app.run reads hot_reload as Dash's runner does", instance=True),
    Private("dash.dash:Dash", "_got_first_request", "the pages router marks its setup done as Dash does", instance=True),
    Private("dash.dash:Dash", "_background_manager", "background=True event callbacks find the CeleryManager", instance=True),
    Private("dash.dash:Dash", "_on_error", "Dash(on_error=...) handles a streaming callback's exception", instance=True),
    Private(
        "dash.development.base_component:Component",
        "_set_random_id",
        "LazyLoad names its placeholder after its id, made as Dash makes a component's",
    ),
    Private("dash._callback_signing", "sign", "each cached page load gets its own signed end_id, as in Dash's _config"),
    Private("dash._callback_signing", "END_SCOPE", "the scope Dash signs a page load's end_id with"),
    Private("dash._utils", "gen_salt", "the random end_id Dash's _config draws"),
    Private("dash._callback", "GLOBAL_INLINE_SCRIPTS", "inline scripts Dash's index drains: a new one rebuilds it"),
    Private("dash.dash:Dash", "_generate_config_html", "Flash keeps the renderer config's HTML, made once"),
    Private("dash.dash:Dash", "_get_signing_secret", "the secret a cached page's end_id is signed with"),
    Private("dash.dash:Dash", "_inline_scripts", "the cached index is rebuilt when one is added", instance=True),
    Private("dash.dash:Dash", "_hot_reload", "the page caches are rebuilt when dev tools' hot reload fires", instance=True),
    Private("dash.dash:Dash", "_favicon", "the cached index is rebuilt when the favicon changes", instance=True),
    Private("dash.dash:Dash", "_callback_list", "the cached dependencies are rebuilt when a callback is added", instance=True),
    Private(
        "dash.resources:Resources",
        "_resources",
        "the cached index is rebuilt when a script or stylesheet is added",
        instance=True,
    ),
    Private("dash._hooks:_Hooks", "_js_dist", "the cached index is rebuilt when a hook adds a script", instance=True),
    Private("dash._hooks:_Hooks", "_css_dist", "the cached index is rebuilt when a hook adds a stylesheet", instance=True),
    Private(
        "dash.backends._quart:QuartDashServer",
        "_ws_shutdown_event",
        "Dash's threaded test runner stops a Quart app by setting it",
        instance=True,
    ),
    Private("dash.dash:Dash", "_enable_mcp", "Flash serves Dash's MCP server when the app enables it", instance=True),
    Private("dash.dash:Dash", "_mcp_path", "the URL Dash registered its MCP server's routes under", instance=True),
)


# --- named accessors for Dash-internal app state -----------------------------------------------
def add_context_property(name: str, prop: property) -> bool:
    """Give `dash.ctx`'s class the property `name` unless Dash has one; whether it was added."""
    if hasattr(DashCallbackContext, name):
        return False
    setattr(DashCallbackContext, name, prop)
    return True


def background_manager(app: Any) -> Any:
    """The app's `background_callback_manager` (None when it has none)."""
    return getattr(app, "_background_manager", None)


def app_on_error(app: Any) -> Callable[[Exception], Any] | None:
    """The app-wide `Dash(on_error=...)` handler (None when it has none)."""
    handler: Callable[[Exception], Any] | None = getattr(app, "_on_error", None)
    return handler


def hooks_of(app: Any, kind: str) -> list[Any]:
    """The app's Dash hooks of `kind` ("layout", "index", "dev_tools", ...)."""
    hooks: list[Any] = app._hooks.get_hooks(kind)
    return hooks


def hot_reload_hash(app: Any) -> Any:
    """Dash's hot-reload hash: None until dev tools' watcher first sees a change."""
    return app._hot_reload.hash


def callback_list(app: Any) -> list[Any]:
    """What Dash's `_dash-dependencies` serves (the app's callbacks as the renderer sees them)."""
    callbacks: list[Any] = app._callback_list
    return callbacks


def mint_end_id(app: Any) -> str:
    """A fresh signed page-load token, drawn and signed as Dash's `_config` does it."""
    secret = app._get_signing_secret()
    return sign(secret, END_SCOPE, gen_salt(24))


def index_inputs(app: Any) -> tuple[Any, ...]:
    """Dash's state that its `index()` reads besides `app.config`, `app.title`, `index_string`
    and the layout: the scripts, stylesheets and inline scripts it lists, the hooks' additions,
    the favicon, the hot-reload hash. Counts stand for appended lists (what Dash ever does to them)."""
    hooks = app._hooks.hooks
    return (
        len(app.scripts._resources._resources),
        len(app.css._resources._resources),
        len(hooks._js_dist),
        len(hooks._css_dist),
        len(app._hooks.get_hooks("dev_tools")),
        len(app._inline_scripts),
        len(GLOBAL_INLINE_SCRIPTS),
        len(ComponentRegistry.registry),
        len(ComponentRegistry.children_props),
        app._favicon,
        app._hot_reload.hash,
        dict(app._dev_tools),
        app.renderer,
        app.validation_layout,
    )


def set_random_id(component: Any) -> Any:
    """The component's id, given one the way Dash gives a component without an id."""
    return component._set_random_id()


def set_current_app(app: Any) -> None:
    """Make `dash.get_app()` answer `app` in this context (a thread running a layout)."""
    app_context.set(app)


def layout_source(app: Any) -> Any:
    """`app.layout` as given: a component, a function or an `async def`."""
    return app._layout


def extra_components(app: Any) -> list[Any]:
    """Components Dash appends to every layout (`app._extra_components`)."""
    components: list[Any] = app._extra_components
    return components


def layout_hooks(app: Any) -> list[Callable[[Any], Any]]:
    """The app's `dash.hooks.layout` functions, in Dash's order."""
    hooks: list[Callable[[Any], Any]] = app._hooks.get_hooks("layout")
    return hooks


def hot_reload(app: Any) -> bool:
    """Whether Dash's dev tools asked for hot reload."""
    return bool(app._dev_tools.hot_reload)


def add_url(app: Any, name: str, view: Callable[..., Any], methods: Iterable[str] = ("GET",)) -> None:
    """Register `view` under the app's routes prefix, as Dash registers its own routes."""
    app._add_url(name, view, methods)


def first_request_done(app: Any, step: str) -> bool:
    """Whether Dash's first-request `step` ("pages", "setup_server") has run."""
    return bool(app._got_first_request[step])


def mark_first_request_done(app: Any, step: str) -> None:
    app._got_first_request[step] = True


def callback_args(app: Any, cb_ctx: Any) -> list[Any]:
    """The callback's argument values, from its inputs and states (Dash's conversion)."""
    args: list[Any] = app._inputs_to_vals(cb_ctx.inputs_list + cb_ctx.states_list)
    return args


def register_from_caller(register: Callable[..., Callable[[Any], Any]], *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
    """Call `register` (Dash's callback registration), and then the decorator it returns, from a
    frame that carries the file, line and module of the user's code that declared the callback.

    Dash looks at that frame twice. It names a callback that has no Inputs and no Outputs after
    its call site: the first stack frame outside the `dash` package
    (`dash._utils.create_callback_id`); Flash's decorators sit between the user's code and Dash,
    so that frame was always Flash's and every such callback got the same id (only the last one
    ran). And its decorator's warnings (a sync `persistent=True` callback without Output) point
    one frame up (`stacklevel=2`), at Flash's line, not the user's. The trampoline below is
    compiled under the user's file name at the user's line, with the user's module name as
    `__name__` (warning filters match on it), so Dash sees exactly the call site it would see
    without Flash."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_SKIPPED_DIRS):
        frame = frame.f_back
    if frame is None:
        return register(*args, **kwargs)
    call = _trampoline(frame.f_code.co_filename, frame.f_lineno, str(frame.f_globals.get("__name__", "__main__")))
    decorator: Callable[[Any], Any] = call(register, args, kwargs)
    return lambda func: call(decorator, (func,), {})


# Dash's own frames, and Flash's (this file is flash/compat/dash.py).
_SKIPPED_DIRS = (
    os.path.dirname(dash.__file__ or "") + os.sep,
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
)


@functools.lru_cache(maxsize=4096)
def _trampoline(filename: str, lineno: int, module: str) -> Callable[..., Any]:
    namespace: dict[str, Any] = {"__name__": module}
    source = "\n" * (max(lineno, 1) - 1) + "call = lambda register, args, kwargs: register(*args, **kwargs)"
    exec(compile(source, filename, "exec"), namespace)  # the user's file and line, by design
    return namespace["call"]  # type: ignore[no-any-return]  # (the lambda calls Dash directly)


def prepare_call(app: Any, cb_ctx: Any, body: dict[str, Any]) -> tuple[Callable[..., Any], Callable[[], Any]]:
    """Dash's callback steps (as its Quart backend's dispatch runs them): the user's function,
    and the call that runs it with Dash's output handling. Flash decides where the call runs."""
    func = app._prepare_callback(cb_ctx, body)
    call = app._execute_callback(func, callback_args(app, cb_ctx), cb_ctx.outputs_list, cb_ctx)
    return func, call


__all__ = [
    "DASH_VERSION",
    "GLOBAL_CALLBACK_LIST",
    "GLOBAL_CALLBACK_MAP",
    "ID_CONTENT",
    "ID_DUMMY",
    "ID_LOCATION",
    "ID_STORE",
    "NEEDED",
    "AttributeDict",
    "DashCallbackContext",
    "QuartDashServer",
    "QuartRequestAdapter",
    "QuartResponseAdapter",
    "add_context_property",
    "add_url",
    "app_context",
    "app_on_error",
    "background_manager",
    "callback_args",
    "callback_list",
    "check_for_duplicate_pathnames",
    "context_value",
    "extra_components",
    "first_request_done",
    "format_traceback_html",
    "hooks_of",
    "hot_reload",
    "hot_reload_hash",
    "index_inputs",
    "layout_hooks",
    "layout_source",
    "mark_first_request_done",
    "mcp_message_handler",
    "mcp_url",
    "mint_end_id",
    "needs_dash45",
    "parse_query_string",
    "path_to_page",
    "prepare_call",
    "refuse_dash45_keywords",
    "register_from_caller",
    "set_current_app",
    "set_random_id",
    "stream_on_error",
    "to_json",
    "validate_layout",
    "validate_layout_type",
    "validate_registry",
]
