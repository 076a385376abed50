"""Reading Flash's SSE wire format back: what tests and benchmark clients need, not the server."""

from __future__ import annotations


def parse_events(raw: bytes) -> list[dict[str, str]]:
    """Parse a block of SSE text into events (each a dict of its fields)."""
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
