"""Shared storage (Dash 4.5's API): key/value with TTL and ordered, replayable pub/sub, shared by
every worker of an app. `LocalSharedStorage` (one machine, in memory), `DiskcacheSharedStorage`
(one host, on disk), `RedisSharedStorage` (any number of hosts). See README "Shared storage".

Backends import their optional dependency (diskcache, redis) only when constructed.
"""
from __future__ import annotations

from .base import BaseSharedStorage, SharedStorageError, SharedStorageGap, Subscription
from .diskcache import DiskcacheSharedStorage
from .local import LocalSharedStorage
from .redis import RedisSharedStorage

__all__ = [
    "BaseSharedStorage",
    "DiskcacheSharedStorage",
    "LocalSharedStorage",
    "RedisSharedStorage",
    "SharedStorageError",
    "SharedStorageGap",
    "Subscription",
]

