"""Request limits and checks an app is configured with (`app.limits`), parsed once at startup.

Other limits (streams, thread pool, shutdown) may live here too; each option reads its
``FLASH_*`` environment variable when the argument is not given.
"""
from __future__ import annotations

import os
from typing import Sequence

DEFAULT_MAX_JSON_DEPTH = 100  # a State of a component tree costs ~3 levels per component
# Streams: one browser's live runs, downlinks per worker, seconds a write may wait for a reader
# that stopped reading, bytes of a run's replay buffer (the why of each: Flash's docstring).
DEFAULT_MAX_STREAMS_PER_CLIENT = 256
DEFAULT_MAX_DOWNLINKS = 10_000
DEFAULT_STREAM_WRITE_TIMEOUT = 30.0
DEFAULT_STREAM_REPLAY_BYTES = 1_048_576


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer.")
    return value


def _origins(value: Sequence[str] | str | None) -> tuple[str, ...] | None:
    if value is None:
        value = os.environ.get("FLASH_ALLOWED_ORIGINS") or None
        if value is None:
            return None
    if isinstance(value, str):
        value = value.split(",")
    origins = tuple(normalize_origin(o) for o in value if o.strip())
    if "*" in origins:
        return None  # any origin: the same as no check
    return origins


def normalize_origin(origin: str) -> str:
    """`https://Example.com:443/` -> `https://example.com`: the form browsers send in Origin."""
    origin = origin.strip().lower().rstrip("/")
    for scheme, port in (("http://", ":80"), ("https://", ":443")):
        if origin.startswith(scheme) and origin.endswith(port):
            return origin[: -len(port)]
    return origin


class Limits:
    """What a request may be. `allowed_origins` None: no Origin check (the JSON-only rule still
    stops browsers' simple cross-site requests); a tuple: POSTs with an Origin must be
    same-origin or listed. `max_json_depth`: nesting of request JSON (deeper: 400).
    Streams: `max_streams_per_client` live runs per downlink (429 beyond), `max_downlinks` per
    worker (503 beyond), `stream_write_timeout` seconds one write may wait for its reader (then
    the downlink is cut), `stream_replay_bytes` per run's replay buffer."""

    __slots__ = ("allowed_origins", "max_json_depth", "max_streams_per_client", "max_downlinks",
                 "stream_write_timeout", "stream_replay_bytes")

    def __init__(self, allowed_origins: Sequence[str] | str | None = None,
                 max_json_depth: int = DEFAULT_MAX_JSON_DEPTH, *,
                 max_streams_per_client: int = DEFAULT_MAX_STREAMS_PER_CLIENT,
                 max_downlinks: int = DEFAULT_MAX_DOWNLINKS,
                 stream_write_timeout: float = DEFAULT_STREAM_WRITE_TIMEOUT,
                 stream_replay_bytes: int = DEFAULT_STREAM_REPLAY_BYTES) -> None:
        if isinstance(max_json_depth, bool) or not isinstance(max_json_depth, int) or max_json_depth < 2:
            raise ValueError("max_json_depth must be an integer of at least 2.")
        self.allowed_origins = _origins(allowed_origins)
        self.max_json_depth = max_json_depth
        # Streams (see docs/streaming-protocol.md, "Limits"):
        self.max_streams_per_client = _positive_int(max_streams_per_client, "max_streams_per_client")
        self.max_downlinks = _positive_int(max_downlinks, "max_downlinks")
        self.stream_replay_bytes = _positive_int(stream_replay_bytes, "stream_replay_bytes")
        if isinstance(stream_write_timeout, bool) or not isinstance(stream_write_timeout, (int, float)) \
                or not 0 < stream_write_timeout < float("inf"):
            raise ValueError("stream_write_timeout must be a positive number of seconds.")
        self.stream_write_timeout = float(stream_write_timeout)
