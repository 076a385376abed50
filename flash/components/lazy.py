"""`LazyLoad`: a placeholder whose real children come from a registered layout function, fetched
when the component scrolls into view (see lazy_route.py for the endpoint)."""

from __future__ import annotations

import inspect
import re
from typing import Any, Callable, Literal, Mapping, TypeVar, overload

import orjson
from dash import stringify_id
from dash.development.base_component import Component

from ..compat.dash import set_random_id

F = TypeVar("F", bound=Callable[..., Any])

MAX_ARGS_BYTES = 64 * 1024  # a loader's arguments, as JSON: ids and filters, not data sets
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
LOADERS: dict[str, Callable[..., Any]] = {}  # name -> layout function; see `lazy_loader`


class LazyLoadError(Exception):
    """Raise it in a loader to show its message in place of the content (other exceptions show
    a generic message: their text may hold internals)."""


def loader_name(func: Callable[..., Any]) -> str:
    """`module.qualname`, with anything a URL path segment should not hold replaced by `_`."""
    raw = f"{getattr(func, '__module__', None) or 'loader'}.{getattr(func, '__qualname__', 'loader')}"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", raw)[-200:]


def check_arguments(func: Callable[..., Any], args: Mapping[str, Any]) -> None:
    """TypeError unless `func(**args)` matches the loader's signature."""
    bad = [key for key in args if not isinstance(key, str) or not key.isidentifier()]
    if bad:
        raise TypeError("LazyLoad args keys must be Python identifiers (they become keyword arguments).")
    try:
        inspect.signature(func).bind(**args)
    except TypeError as err:
        raise TypeError(f"LazyLoad args do not match the loader's parameters: {err}") from None


@overload
def lazy_loader(func: F, *, name: str | None = None) -> F: ...
@overload
def lazy_loader(func: None = None, *, name: str | None = None) -> Callable[[F], F]: ...


def lazy_loader(func: Any = None, *, name: str | None = None) -> Any:
    """Register `func` (an `async def` returning a layout; a sync one runs in a thread) so that
    `LazyLoad(load=func)` can fetch it. Decorate loaders that a `LazyLoad` made inside a callback
    uses: every worker process then knows them from importing the module. The same name
    registered again (a re-imported module) replaces the earlier function."""

    def register(target: F) -> F:
        if not callable(target):
            raise TypeError("lazy_loader decorates a function that returns a layout.")
        key = name if name is not None else loader_name(target)
        if not isinstance(key, str) or not _NAME.match(key):
            raise ValueError("A lazy loader name is 1-200 characters of letters, digits, '_', '.' and '-'.")
        LOADERS[key] = target
        target.__flash_lazy_name__ = key  # type: ignore[attr-defined]
        return target

    return register if func is None else register(func)


def _registered_name(load: Callable[..., Any] | str) -> str:
    if isinstance(load, str):
        if load not in LOADERS:
            raise ValueError(f"No lazy loader is registered as {load!r} (see flash.components.lazy_loader).")
        return load
    if not callable(load):
        raise TypeError("LazyLoad(load=...) takes a layout function or the name of a registered one.")
    name: str | None = getattr(load, "__flash_lazy_name__", None)
    if name is None or LOADERS.get(name) is not load:
        lazy_loader(load)
        name = getattr(load, "__flash_lazy_name__")
    return name


def _checked_args(func: Callable[..., Any], args: Any) -> dict[str, Any]:
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        raise TypeError("LazyLoad args must be a dict of keyword arguments for the loader.")
    try:
        size = len(orjson.dumps(dict(args)))
    except TypeError as err:
        raise TypeError(f"LazyLoad args must be JSON values (strings, numbers, lists, dicts): {err}") from None
    if size > MAX_ARGS_BYTES:
        raise ValueError(f"LazyLoad args are {size} bytes as JSON; the limit is {MAX_ARGS_BYTES}.")
    check_arguments(func, args)
    return dict(args)


CONTENT_TYPE = "flash-lazy-content"  # the `type` of every LazyContent's (pattern-matching) id


def content_id(lazy_id: Any) -> dict[str, str]:
    return {"type": CONTENT_TYPE, "lazy": stringify_id(lazy_id)}


class LazyContent(Component):
    """Where a LazyLoad's loaded layout goes (its only child; internal). The browser puts the
    layout in `layout`; a clientside callback of every app (see lazy_route.py) copies it to
    `children`, so that dash-renderer treats it as a callback's new layout: the new components
    get their ids registered and their initial callbacks run, as after any callback."""

    _children_props: list[str] = []
    _base_nodes = ["children"]
    _namespace = "flash_components"
    _type = "LazyContent"
    _prop_names = ["id", "children", "layout"]
    _valid_wildcard_attributes: list[str] = []
    available_properties = _prop_names
    available_wildcard_properties: list[str] = []

    def __init__(self, id: dict[str, str], **kwargs: Any) -> None:
        super().__init__(id=id, **kwargs)


class LazyLoad(Component):
    """A LazyLoad component: shows `placeholder` until it scrolls into view (or is shown, e.g.
    on a tab), then fetches its content from the server by calling a layout function.

    `LazyLoad(load=panel, args={"region": "north"})` calls ``await panel(region="north")`` on
    the server (POST ``<prefix>_flash/lazy/<name>``) the first time the component becomes
    visible. Several LazyLoads load concurrently. The loaded components work as if a callback
    had returned them: their callbacks run, initial calls included. `args` reach the server
    from the browser: validate them as you would callback inputs.

    Keyword arguments:

    - id (string | dict; optional): the component's id (one is generated if missing).
    - load (function | string; required): the layout function (`async def`, or sync: it runs in
      a thread), or the name it was registered under with `lazy_loader`. Stored as `loader`.
    - args (dict; optional): keyword arguments for the loader (JSON values, at most 64 KiB).
      Changing them from a callback loads again (once visible).
    - placeholder (a component; optional): shown until the content arrives (default: a
      "Loading…" line).
    - status (one of "idle", "loading", "loaded", "error"; read-only): where loading is.
    - error (string; read-only): why loading failed; shown in place with a Retry button.
    - root_margin (string; default "0px"): IntersectionObserver margin, e.g. "300px" starts
      loading that far before the component reaches the viewport.
    - className, style: of the wrapping div.

    Its `children` (a `LazyContent` holding the loaded layout) and `content_id` are internal:
    do not set them from callbacks (set `args` to load other content)."""

    _children_props: list[str] = ["placeholder"]
    _base_nodes = ["placeholder", "children"]
    _namespace = "flash_components"
    _type = "LazyLoad"
    _prop_names = [
        "id",
        "loader",
        "args",
        "placeholder",
        "children",
        "content_id",
        "status",
        "error",
        "root_margin",
        "className",
        "style",
    ]
    _valid_wildcard_attributes: list[str] = []
    available_properties = _prop_names
    available_wildcard_properties: list[str] = []

    def __init__(
        self,
        id: str | dict[str, Any] | None = None,
        load: Callable[..., Any] | str | None = None,
        args: Mapping[str, Any] | None = None,
        placeholder: Any = None,
        root_margin: str | None = None,
        className: str | None = None,
        style: dict[str, Any] | None = None,
        status: Literal["idle", "loading", "loaded", "error"] | None = None,
        error: str | None = None,
        loader: str | None = None,
    ) -> None:
        if load is None:
            load = loader  # a LazyLoad rebuilt from its own props (loader is the stored name)
        if load is None:
            raise TypeError("LazyLoad needs load=<layout function or registered name>.")
        name = _registered_name(load)
        props: dict[str, Any] = {"loader": name, "args": _checked_args(LOADERS[name], args), "status": status or "idle"}
        given = {
            "id": id,
            "placeholder": placeholder,
            "root_margin": root_margin,
            "className": className,
            "style": style,
            "error": error,
        }
        props.update({key: value for key, value in given.items() if value is not None})
        super().__init__(**props)
        if id is None:
            id = set_random_id(self)
        self.content_id = content_id(id)
        self.children = LazyContent(id=self.content_id)
