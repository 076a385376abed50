"""Values cross process boundaries as JSON bytes: data only, never pickle (no code runs on load)."""

from __future__ import annotations

from typing import Any

import orjson

from .base import SharedStorageError


def encode(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError as exc:
        raise SharedStorageError(f"shared storage holds JSON-compatible values only; got {type(value).__name__}: {exc}") from exc


def decode(raw: bytes | str) -> Any:
    return orjson.loads(raw)
