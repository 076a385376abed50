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


def frame_run_event(event: str, run_id: str, seq: int, payload: bytes | memoryview) -> bytes:
    """One run's message on a downlink, `payload` being its data as JSON: the run id and the
    sequence id travel in the data."""
    return b'event: %s\ndata: {"run":"%s","seq":%d,"data":%s}\n\n' % (event.encode(), run_id.encode(), seq, payload)


def encode_run_event(event: str, run_id: str, seq: int, data: Any) -> bytes:
    return frame_run_event(event, run_id, seq, dumps(data))


class RunMessage:
    """A run's message before it is numbered: its event and its data, encoded once. A run keeps
    these two (not the framed message) for a resume: `frame_run_event` makes the same bytes again."""

    __slots__ = ("event", "payload")

    def __init__(self, event: str, data: Any) -> None:
        self.event = event
        # A copy of exactly its size: orjson's result keeps the buffer it wrote into (4 KiB for a
        # small value), and a run's publish holds this while it waits for a lagging page (the
        # replay log copies the payload into its own buffer).
        self.payload = memoryview(dumps(data)).tobytes()

    def framed(self, run_id: str, seq: int) -> bytes:
        return frame_run_event(self.event, run_id, seq, self.payload)
