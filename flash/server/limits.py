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
# Bounded memory per worker whatever clients send (docs/streaming-protocol.md, "Limits"): live
# runs per worker and per client address, downlinks per client address, a start's body, the
# start bodies all live runs hold together, and bytes queued on one downlink.
DEFAULT_MAX_STREAMS = 2_000
DEFAULT_MAX_STREAMS_PER_ADDRESS = 1_000
DEFAULT_MAX_DOWNLINKS_PER_ADDRESS = 2_500
DEFAULT_MAX_STREAM_START_BYTES = 1_048_576
DEFAULT_STREAM_START_BUDGET = 16 * 1_048_576
DEFAULT_STREAM_BUFFER_BYTES = 65_536
# What one more of each costs a worker, with margin (measured by tests/integration/
# test_hostile_clients.py and benchmark W5: ~23 KB per open downlink, ~8 KB per idle run).
DOWNLINK_BYTES = 48 * 1024
RUN_BYTES = 64 * 1024
START_EXPANSION = 25  # parsed JSON takes at most ~24x its bytes (a list of empty objects)


def max_request_size_option(value: int | None) -> int | None:
    """`Flash(max_request_size=...)`, else env ``FLASH_MAX_REQUEST_SIZE``, else None (the backend's default)."""
    if value is None and os.environ.get("FLASH_MAX_REQUEST_SIZE"):
        value = int(os.environ["FLASH_MAX_REQUEST_SIZE"])
    if value is not None and value <= 0:
        raise ValueError("max_request_size must be a positive number of bytes.")
    return value


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer.")
    return value


def _option(value: int | None, name: str, default: int) -> int:
    """`value`, else env ``FLASH_<NAME>``, else `default`; a positive integer."""
    if value is None:
        env = "FLASH_" + name.upper()
        raw = os.environ.get(env)
        if not raw:
            return default
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            raise ValueError(f"{env} must be a positive integer ({name}).") from None
    return _positive_int(value, name)


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

    Streams (each None: env ``FLASH_<OPTION>``, else the default; the why of each: Flash's
    docstring): `max_streams` live runs per worker (503 beyond), `max_streams_per_client` per
    downlink (429), `max_streams_per_address` per client address over all its downlinks (429),
    `max_downlinks` per worker (503), `max_downlinks_per_address` (429), `max_stream_start_bytes`
    per start body (413), `stream_start_budget` bytes of start bodies all live runs of a worker
    hold together (503), `stream_buffer_bytes` queued on one downlink before its generators wait,
    `stream_write_timeout` seconds one write may wait for its reader (then the downlink is cut),
    `stream_replay_bytes` per run's replay buffer. `memory_bound()` is what they add up to."""

    __slots__ = (
        "allowed_origins",
        "max_json_depth",
        "max_streams_per_client",
        "max_downlinks",
        "stream_write_timeout",
        "stream_replay_bytes",
        "max_streams",
        "max_streams_per_address",
        "max_downlinks_per_address",
        "max_stream_start_bytes",
        "stream_start_budget",
        "stream_buffer_bytes",
    )

    def __init__(
        self,
        allowed_origins: Sequence[str] | str | None = None,
        max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
        *,
        max_streams_per_client: int | None = None,
        max_downlinks: int | None = None,
        stream_write_timeout: float | None = None,
        stream_replay_bytes: int | None = None,
        max_streams: int | None = None,
        max_streams_per_address: int | None = None,
        max_downlinks_per_address: int | None = None,
        max_stream_start_bytes: int | None = None,
        stream_start_budget: int | None = None,
        stream_buffer_bytes: int | None = None,
    ) -> None:
        if isinstance(max_json_depth, bool) or not isinstance(max_json_depth, int) or max_json_depth < 2:
            raise ValueError("max_json_depth must be an integer of at least 2.")
        self.allowed_origins = _origins(allowed_origins)
        self.max_json_depth = max_json_depth
        # Streams (see docs/streaming-protocol.md, "Limits"):
        self.max_streams_per_client = _option(max_streams_per_client, "max_streams_per_client", DEFAULT_MAX_STREAMS_PER_CLIENT)
        self.max_downlinks = _option(max_downlinks, "max_downlinks", DEFAULT_MAX_DOWNLINKS)
        self.stream_replay_bytes = _option(stream_replay_bytes, "stream_replay_bytes", DEFAULT_STREAM_REPLAY_BYTES)
        self.max_streams = _option(max_streams, "max_streams", DEFAULT_MAX_STREAMS)
        self.max_streams_per_address = _option(
            max_streams_per_address, "max_streams_per_address", DEFAULT_MAX_STREAMS_PER_ADDRESS
        )
        self.max_downlinks_per_address = _option(
            max_downlinks_per_address, "max_downlinks_per_address", DEFAULT_MAX_DOWNLINKS_PER_ADDRESS
        )
        self.max_stream_start_bytes = _option(max_stream_start_bytes, "max_stream_start_bytes", DEFAULT_MAX_STREAM_START_BYTES)
        self.stream_start_budget = _option(stream_start_budget, "stream_start_budget", DEFAULT_STREAM_START_BUDGET)
        self.stream_buffer_bytes = _option(stream_buffer_bytes, "stream_buffer_bytes", DEFAULT_STREAM_BUFFER_BYTES)
        if stream_write_timeout is None:
            raw = os.environ.get("FLASH_STREAM_WRITE_TIMEOUT")
            try:
                stream_write_timeout = float(raw) if raw else DEFAULT_STREAM_WRITE_TIMEOUT
            except ValueError:
                raise ValueError(
                    "FLASH_STREAM_WRITE_TIMEOUT must be a positive number of seconds (stream_write_timeout)."
                ) from None
        if (
            isinstance(stream_write_timeout, bool)
            or not isinstance(stream_write_timeout, (int, float))
            or not 0 < stream_write_timeout < float("inf")
        ):
            raise ValueError("stream_write_timeout must be a positive number of seconds.")
        self.stream_write_timeout = float(stream_write_timeout)

    def memory_bound(self, message_bytes: int = 1024, replay_size: int = 256) -> int:
        """The most memory (bytes) a worker's streams hold at these limits, whatever clients
        send, when the app's streams yield messages of at most `message_bytes`: every downlink
        open, every run live, the start budget full (parsed), and every reader stalled. Per run:
        its replay buffer (at most `replay_size` messages and `stream_replay_bytes`, plus the
        newest) and one message queued and one being written; per downlink with runs: its queue
        and the write in flight, each at most `stream_buffer_bytes` beyond those messages."""
        replay = min(self.stream_replay_bytes, replay_size * message_bytes) + message_bytes
        per_run = RUN_BYTES + replay + 2 * message_bytes
        fed_downlinks = min(self.max_downlinks, self.max_streams)
        return (
            self.max_downlinks * DOWNLINK_BYTES
            + self.max_streams * per_run
            + START_EXPANSION * self.stream_start_budget
            + fed_downlinks * 2 * self.stream_buffer_bytes
        )
