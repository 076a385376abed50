"""Server-Sent Events framing for Flash streams (see docs/streaming-protocol.md).

It lives in the server layer so that both the server (shutdown's final event) and the streams
above it import it downward."""

from __future__ import annotations

from typing import Any

from .jsonfast import dumps

HEARTBEAT = b": heartbeat\n\n"


def encode_event(event: str, data: Any, seq: int | None = None) -> bytes:
    """One SSE message; `data` is serialized with Dash's JSON rules (figures, numpy, Patch...)."""
    payload = data if isinstance(data, str) else dumps(data).decode("utf-8")
    head = f"id: {seq}\n" if seq is not None else ""
    # Compact JSON never holds a raw newline, so one data line is enough.
    return f"{head}event: {event}\ndata: {payload}\n\n".encode("utf-8")


def encode_run_event(event: str, run_id: str, seq: int, data: Any) -> bytes:
    """One run's message on a downlink: its run id and sequence id travel in the data."""
    payload = dumps(data).decode("utf-8")
    return f'event: {event}\ndata: {{"run":"{run_id}","seq":{seq},"data":{payload}}}\n\n'.encode("utf-8")
