"""Shared storage (Dash 4.5's API): key/value with TTL and ordered, replayable pub/sub, shared by
every worker of an app. `LocalSharedStorage` (one machine, in memory), `DiskcacheSharedStorage`
(one host, on disk), `RedisSharedStorage` (any number of hosts). See docs/shared-storage.md.

On Dash 4.5, `BaseSharedStorage`, `Subscription`, `SharedStorageError` and `SharedStorageGap`
here are Dash's own classes, and Flash's three backends subclass Dash's `BaseSharedStorage`
(through `base.BaseSharedStorage`, the root of Flash's backends): `Dash(shared_storage=...)` and
Flash accept each other's backends. On Dash 4.4 they are all Flash's.

Backends import their optional dependency (diskcache, redis) only when constructed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dash

from .base import SharedStorageError, SharedStorageGap
from .diskcache import DiskcacheSharedStorage
from .local import LocalSharedStorage
from .redis import RedisSharedStorage

if TYPE_CHECKING or not hasattr(dash, "BaseSharedStorage"):
    from .base import BaseSharedStorage, Subscription
else:  # Dash 4.5: its public base classes (Flash's backends and subscriptions subclass them)
    from dash import BaseSharedStorage, Subscription

__all__ = [
    "BaseSharedStorage",
    "DiskcacheSharedStorage",
    "LocalSharedStorage",
    "RedisSharedStorage",
    "SharedStorageError",
    "SharedStorageGap",
    "Subscription",
]
