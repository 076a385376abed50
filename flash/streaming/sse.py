"""Server-Sent Events framing for Flash streams (see docs/streaming-protocol.md)."""
from __future__ import annotations

from typing import Any

from ..server.jsonfast import dumps

HEARTBEAT = b": heartbeat\n\n"


def encode_event(event: str, data: Any, seq: int | None = None) -> bytes:
    """One SSE message; `data` is serialized with Dash's JSON rules (figures, numpy, Patch...)."""
    payload = data if isinstance(data, str) else dumps(data).decode("utf-8")
    head = f"id: {seq}\n" if seq is not None else ""
    # Compact JSON never holds a raw newline, so one data line is enough.
    return f"{head}event: {event}\ndata: {payload}\n\n".encode("utf-8")


def parse_events(raw: bytes) -> list[dict[str, str]]:
    """Parse a block of SSE text into events (used by tests and the benchmark client)."""
    events = []
    for block in raw.decode("utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            fields[name] = fields[name] + "\n" + value if name in fields else value
        if fields:
            events.append(fields)
    return events


def encode_run_event(event: str, run_id: str, seq: int, data: Any) -> bytes:
    """One run's message on a downlink: its run id and sequence id travel in the data."""
    payload = dumps(data).decode("utf-8")
    return f'event: {event}\ndata: {{"run":"{run_id}","seq":{seq},"data":{payload}}}\n\n'.encode("utf-8")
