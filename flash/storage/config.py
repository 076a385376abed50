"""Turn `Flash(shared_storage=...)` and the environment into a backend (or None: off).

Why here: Dash 4.5 takes a backend instance, and `DASH_SHARED_STORAGE` (`local`, `none`,
`diskcache:///abs/path`, a `redis://` / `rediss://` URL) when the argument is not given. Flash
accepts the same, a URL string as the argument, and `FLASH_SHARED_STORAGE` (which wins over
`DASH_SHARED_STORAGE`). Off by default, as in Dash 4.5.
"""

from __future__ import annotations

import logging
import os
from typing import Any, cast
from urllib.parse import unquote, urlparse

import dash

from .base import BaseSharedStorage

logger = logging.getLogger("flash.storage")

ENV_NAMES = ("FLASH_SHARED_STORAGE", "DASH_SHARED_STORAGE")


class _Unset:
    def __repr__(self) -> str:
        return "<from the environment>"


UNSET: Any = _Unset()


def from_url(spec: str) -> BaseSharedStorage | None:
    """`local`, `none`, `diskcache:///abs/path`, or a Redis URL -> a backend (None for `none`)."""
    text = spec.strip()
    lowered = text.lower()
    if lowered in ("", "none", "off", "false", "0"):
        return None
    if lowered == "local":
        from .local import LocalSharedStorage

        return LocalSharedStorage()
    scheme = urlparse(text).scheme.lower()
    if scheme == "diskcache":
        from .diskcache import DiskcacheSharedStorage

        parsed = urlparse(text)
        path = unquote(parsed.path)
        if parsed.netloc or not os.path.isabs(path):
            raise ValueError(f"diskcache shared storage needs an absolute path (diskcache:///abs/path), got {spec!r}")
        return DiskcacheSharedStorage(directory=path)
    if scheme in ("redis", "rediss", "unix"):
        from .redis import RedisSharedStorage

        return RedisSharedStorage(url=text)
    raise ValueError(f"unknown shared storage {spec!r}: use 'local', 'none', 'diskcache:///abs/path' or a redis:// URL")


def _roots() -> tuple[type, ...]:
    """What a backend is an instance of: Flash's base, and on Dash 4.5 Dash's (which Flash's
    subclasses there: a backend written for Dash 4.5 is accepted as is)."""
    dash_root: type | None = getattr(dash, "BaseSharedStorage", None)
    return (BaseSharedStorage,) if dash_root is None else (BaseSharedStorage, dash_root)


def _dash_backends() -> dict[type, type]:
    """Dash 4.5's backend classes -> Flash's classes of the same name (empty on Dash 4.4).

    `Flash(shared_storage=dash.LocalSharedStorage)` (a Dash 4.5 app, unchanged) gets Flash's
    backend: the same API, and the one Flash's stream bus and channels are built on."""
    from . import DiskcacheSharedStorage, LocalSharedStorage, RedisSharedStorage

    ours: tuple[type, ...] = (LocalSharedStorage, DiskcacheSharedStorage, RedisSharedStorage)
    return {getattr(dash, cls.__name__): cls for cls in ours if hasattr(dash, cls.__name__)}


def _note_foreign(backend: Any) -> None:
    """A Dash 4.5 backend instance serves `app.shared_storage`; Flash's streams cross workers only
    through Flash's own Redis backend (its stream bus is built on it), so say so for Dash's."""
    dash_redis = getattr(dash, "RedisSharedStorage", None)
    if dash_redis is not None and isinstance(backend, dash_redis):
        logger.warning(
            "shared_storage is Dash's RedisSharedStorage: it serves app.shared_storage and "
            "ctx.shared_storage, but Flash's streams cross workers only through Flash's "
            "RedisSharedStorage (from flash import RedisSharedStorage; same url= and key_prefix=)."
        )


def resolve(value: Any = UNSET) -> BaseSharedStorage | None:
    """The backend an app uses: the argument if given (instance, class, URL string, None/False),
    else the environment, else None."""
    if value is UNSET:
        for name in ENV_NAMES:
            spec = os.environ.get(name)
            if spec is not None:
                try:
                    return from_url(spec)
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc}") from None
        return None
    if value is None or value is False:
        return None
    if isinstance(value, type) and value in _dash_backends():
        value = _dash_backends()[value]  # Dash 4.5's own class: Flash's of the same name
    if isinstance(value, _roots()):
        if not isinstance(value, BaseSharedStorage):
            _note_foreign(value)
        return cast(BaseSharedStorage, value)  # Flash's, or any Dash 4.5 backend instance
    if isinstance(value, type) and issubclass(value, _roots()):
        return cast(BaseSharedStorage, value())
    if isinstance(value, str):
        return from_url(value)
    raise TypeError(
        "shared_storage takes a LocalSharedStorage/DiskcacheSharedStorage/RedisSharedStorage "
        f"(any BaseSharedStorage), a URL string, or None; got {type(value).__name__}"
    )
