"""A page load's three GETs (`/`, `_dash-layout`, `_dash-dependencies`) served from bytes made once.

Dash builds each anew on every request: the static layout is re-walked into JSON, the index
re-stats every script and re-serializes the renderer config, the callback list is re-encoded.
Here each is made by the code that serves it today (Dash's index view, Flash's `serve_layout`,
Dash's `dependencies`), kept with a key of everything it was made from, and served as bytes
(with an `ETag`, a 304 on a matching `If-None-Match`, and its gzip made once) until the key changes:

- **layout**: only a component layout (a layout function runs per request: that is its point),
  and only without `dash.hooks.layout` hooks (a hook may read the request). The key: a counter
  that `app.layout = ...` bumps, the extra components Dash adds, the hot-reload hash. A layout
  changed *in place* after it was first served (`app.layout.children.append(...)`) is served as
  it was: assign it again (`app.layout = app.layout`) to publish the change.
- **index** (with the renderer config): not for a pages app with `include_pages_meta` (its meta
  tags follow the request's URL) nor with `dash.hooks.index` hooks, nor when the app's class
  overrides how the index is made. The key: `app.config`, `title`, `index_string` and what
  `index_inputs` lists (scripts, stylesheets, hooks, favicon, hot-reload hash, ...). Dash signs a
  new `end_id` into every page load's config: the cached index keeps the place of the one it was
  made with, and each load gets a fresh one (`mint_end_id`), so page loads never share it. Its
  ETag is weak (`W/`) and the page `private`: a 304 lets one browser keep its own copy.
- **dependencies**: the key is the app's callback list and its length.

Component-suite and favicon files are fingerprinted when the index is made (Dash stats them on
every load): a file replaced under a running server shows on the next hot reload or restart.
The cache belongs to its app (`app.page_cache`); an entry is replaced whenever its key changes,
so it holds at most one entry per page route.
"""

from __future__ import annotations

import contextvars
import copy
import gzip
import hashlib
import inspect
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable

from quart import Response

from ..compat.dash import callback_list, extra_components, hooks_of, hot_reload_hash, index_inputs, layout_source, mint_end_id
from .compression import COMPRESSIBLE, MIN_SIZE

if TYPE_CHECKING:
    from .host import ServerHost

Headers = list[tuple[bytes, bytes]]
# The end_id Dash signed into the config while an index is being made for the cache (app._config).
MINTED: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("flash_minted_end_id", default=None)
# Methods whose override by the app's class means the page is not what this module assumes.
_LAYOUT_METHODS = ("serve_layout", "get_layout", "_layout_value", "layout")
_INDEX_METHODS = (
    "index",
    "interpolate_index",
    "_config",
    "_generate_scripts_html",
    "_generate_css_dist_html",
    "_generate_config_html",
    "_generate_renderer",
    "_generate_meta",
)
_DEPENDENCIES_METHODS = ("dependencies",)
_CONFIG_METHODS = ("_config",)


def note_end_id(config: dict[str, Any]) -> dict[str, Any]:
    """Called on each page config Flash makes: remembers its end_id while the cache makes an index."""
    if isinstance(config.get("end_id"), str):
        _note(config["end_id"])
    return config


def _note(end_id: str) -> None:
    minted = MINTED.get()
    if minted is not None:
        minted.append(end_id)


class Entry:
    """One cached answer: its body (with the place of a per-load token, if any), ETag and gzip."""

    __slots__ = ("key", "parts", "content_type", "etag", "cache_control", "_gzip")

    def __init__(self, key: tuple[Any, ...], parts: tuple[bytes, ...], content_type: str, private: bool) -> None:
        self.key = key
        self.parts = parts
        self.content_type = content_type
        digest = hashlib.blake2b(b"\0".join(parts), digest_size=16).hexdigest()
        self.etag = f'W/"{digest}"' if len(parts) > 1 else f'"{digest}"'
        self.cache_control = "private, no-cache" if private else "no-cache"
        self._gzip: bytes | None = None

    def body(self, app: "ServerHost") -> bytes:
        if len(self.parts) == 1:
            return self.parts[0]
        return mint_end_id(app).encode().join(self.parts)

    def gzipped(self, body: bytes) -> bytes:
        """The gzip of the body: made once when the body is the same on every load."""
        if len(self.parts) > 1:
            return gzip.compress(body, compresslevel=6)
        if self._gzip is None:
            self._gzip = gzip.compress(body, compresslevel=6)
        return self._gzip

    def answer(
        self, app: "ServerHost", if_none_match: str | None, accept_encoding: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for a GET with these request headers."""
        headers = {"ETag": self.etag, "Cache-Control": self.cache_control}
        compress = bool(app.config.compress)
        if compress:
            headers["Vary"] = "Accept-Encoding"
        if if_none_match and _matches(if_none_match, self.etag):
            return 304, headers, b""
        body = self.body(app)
        headers["Content-Type"] = self.content_type
        if (
            compress
            and "gzip" in (accept_encoding or "").lower()
            and len(body) >= MIN_SIZE
            and self.content_type.startswith(COMPRESSIBLE)
        ):
            body = self.gzipped(body)
            headers["Content-Encoding"] = "gzip"
        return 200, headers, body


def _matches(if_none_match: str, etag: str) -> bool:
    """`If-None-Match` against our ETag, by the weak comparison RFC 9110 prescribes for it."""
    ours = etag.removeprefix("W/")
    return any(tag.strip() == "*" or tag.strip().removeprefix("W/") == ours for tag in if_none_match.split(","))


def _overrides(app: "ServerHost", names: tuple[str, ...]) -> bool:
    """Whether the app's class (a user's subclass) replaces one of these Flash/Dash methods."""
    cls: type = type(app)
    found = _OVERRIDES.get((id(cls), names))
    if found is None:
        flash_class = _flash_class(cls)
        found = _OVERRIDES[(id(cls), names)] = cls is not flash_class and any(
            getattr(cls, name) is not getattr(flash_class, name) for name in names
        )
        _CLASSES.append(cls)  # keeps the id above meaning this class
    return found


def _flash_class(cls: type) -> type:
    """Flash itself, found in the app class's MRO (this layer does not import flash.app)."""
    return next((base for base in cls.__mro__ if base.__module__ == "flash.app" and base.__name__ == "Flash"), cls)


# Whether an app class overrides a group of methods, by class id and group. Nothing removes
# entries: one per app class and group (a handful per process); the classes are kept alive.
_OVERRIDES: dict[tuple[int, tuple[str, ...]], bool] = {}
_CLASSES: list[type] = []


def _snapshot(key: tuple[Any, ...], slot: str) -> tuple[Any, ...]:
    """The key as kept: the index key's config values that are lists or dicts are copied, so
    that one changed in place (`app.config.external_scripts.append(...)`) no longer compares equal."""
    if slot not in ("index", "config"):
        return key
    config = tuple((k, copy.deepcopy(v) if isinstance(v, (list, dict)) else v) for k, v in key[0])
    return (config,) + key[1:]


class PageCache:
    """The cached layout, index and dependencies of one app; each slot is replaced when its key changes."""

    def __init__(self, app: "ServerHost") -> None:
        self.app = app
        self.entries: dict[str, Entry] = {}  # "layout" | "index" | "dependencies"; replaced, never grown
        # The renderer config's <script> (Dash's `_generate_config_html`) around its end_id, and its key.
        self.config_html: tuple[tuple[Any, ...], str, str] | None = None

    # --- keys: None means "not cacheable now: serve it per request" ------------------------------
    def layout_key(self) -> tuple[Any, ...] | None:
        app = self.app
        source = layout_source(app)
        if callable(source) or hooks_of(app, "layout") or _overrides(app, _LAYOUT_METHODS):
            return None
        # Objects in the key are compared by identity (components do not define equality).
        return (
            app.layout_version,
            id(source),
            tuple(map(id, extra_components(app))),
            hot_reload_hash(app),
            source,
            tuple(extra_components(app)),
        )

    def config_key(self) -> tuple[Any, ...] | None:
        """What Dash's renderer config is made from (`_config`), or None: made per page load."""
        app = self.app
        if _overrides(app, _CONFIG_METHODS) or any(callable(hook.get("props")) for hook in hooks_of(app, "dev_tools")):
            return None
        return (
            tuple(app.config.items()),
            index_inputs(app),
            len(app.callback_map),
            tuple(map(id, extra_components(app))),
            tuple(extra_components(app)),
        )

    def index_key(self) -> tuple[Any, ...] | None:
        app = self.app
        config = self.config_key()
        if (
            config is None
            or (app.use_pages and app.config.include_pages_meta)
            or hooks_of(app, "index")
            or _overrides(app, _INDEX_METHODS)
        ):
            return None
        return config + (app.title, app.index_string)

    def renderer_config(self, make: Callable[[], str]) -> str:
        """Dash's `_generate_config_html` (`make`), made once per config: the page load's own
        end_id is put in the place of the one it was made with (and noted for an index being made)."""
        key = self.config_key()
        if key is None:
            return make()
        kept = self.config_html
        if kept is None or kept[0] != key:
            minted: list[str] = []
            token = MINTED.set(minted)
            try:
                made = make()
            finally:
                MINTED.reset(token)
            for end_id in minted:
                _note(end_id)
            parts = made.split(minted[0]) if len(minted) == 1 else []
            if len(parts) != 2:
                return made  # no end_id, or not once: this config stays per page load
            self.config_html = kept = (_snapshot(key, "config"), parts[0], parts[1])
            return made
        end_id = mint_end_id(self.app)
        _note(end_id)
        return kept[1] + end_id + kept[2]

    def dependencies_key(self) -> tuple[Any, ...] | None:
        if _overrides(self.app, _DEPENDENCIES_METHODS):
            return None
        callbacks = callback_list(self.app)
        return (id(callbacks), len(callbacks), callbacks)

    def key(self, slot: str) -> tuple[Any, ...] | None:
        if slot == "layout":
            return self.layout_key()
        if slot == "index":
            return self.index_key()
        return self.dependencies_key()

    # --- lookup and fill -------------------------------------------------------------------------
    def current(self, slot: str) -> tuple[tuple[Any, ...] | None, Entry | None]:
        """The slot's key now, and its entry if one was made with that key."""
        key = self.key(slot)
        if key is None:
            return None, None
        entry = self.entries.get(slot)
        if entry is not None and key == entry.key:
            return key, entry
        return key, None

    async def fill(self, slot: str, key: tuple[Any, ...], view: Callable[..., Any], *args: Any, **kwargs: Any) -> Entry | None:
        """Make the slot's answer with the view that serves it (Dash's or Flash's) and keep it
        under `key`, the key taken before it was made (a change meanwhile makes the next request
        make it again). None: the answer is not one to keep (an error, a streamed body)."""
        minted: list[str] = []
        token = MINTED.set(minted)
        try:
            response = await _call(view, *args, **kwargs)
        finally:
            MINTED.reset(token)
        if not isinstance(response, Response) or response.status_code != 200 or response.headers.get("Content-Encoding"):
            return None
        body = await response.get_data(as_text=False)
        parts: tuple[bytes, ...] = (body,)
        if slot == "index" and minted:
            parts = tuple(body.split(minted[-1].encode()))
            if len(parts) != 2 or len(minted) != 1:
                return None  # the token is not once in the page: leave this index per request
        entry = Entry(
            _snapshot(key, slot), parts, response.headers.get("Content-Type", "application/octet-stream"), private=slot == "index"
        )
        self.entries[slot] = entry
        return entry

    def clear(self) -> None:
        self.entries.clear()
        self.config_html = None


async def _call(view: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    result = view(*args, **kwargs)
    return await result if inspect.isawaitable(result) else result


def to_response(answer: tuple[int, dict[str, str], bytes]) -> Response:
    status, headers, body = answer
    response = Response(body, status=status, headers=headers)
    if status == 304:
        response.headers.pop("Content-Type", None)
    return response


def cached_view(app: "ServerHost", slot: str, view: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """`view` (the route's own view) behind the slot's cache, for requests that go through Quart."""
    from quart import request

    async def serve(*args: Any, **kwargs: Any) -> Any:
        cache = app.page_cache
        key, entry = cache.current(slot)
        if key is None:
            return await _call(view, *args, **kwargs)
        if entry is None:
            entry = await cache.fill(slot, key, view, *args, **kwargs)
            if entry is None:
                return await _call(view, *args, **kwargs)
        return to_response(entry.answer(app, request.headers.get("If-None-Match"), request.headers.get("Accept-Encoding")))

    serve.__name__ = getattr(view, "__name__", slot)
    serve.__wrapped__ = view  # type: ignore[attr-defined]
    return serve


def direct_answer(
    app: "ServerHost", slot: str, scope_headers: Iterable[tuple[bytes, bytes]]
) -> tuple[int, Headers, bytes] | None:
    """The slot's answer for the direct path, or None when it is not cached (Quart makes it)."""
    key, entry = app.page_cache.current(slot)
    if entry is None:
        return None
    if_none_match = accept = None
    for name, value in scope_headers:
        lower = name.lower()
        if lower == b"if-none-match":
            if_none_match = value.decode("latin1")
        elif lower == b"accept-encoding":
            accept = value.decode("latin1")
    status, headers, body = entry.answer(app, if_none_match, accept)
    raw = [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in headers.items()]
    if status == 200:
        raw.append((b"content-length", str(len(body)).encode()))
    return status, raw, body
