"""W7's page, by id: shared by Flash's app (`browser_app.build_many`) and Dash 4.5's
(`dash45_app.build_many`), so the driver (`browser_callbacks.py`) clicks the same ids on both.
Imports neither framework: Dash 4.5's venv has no Flash."""

from __future__ import annotations

MANY = 100  # streams on the page at most
FIRST_GO, REST_GO = "streams-first", "streams-rest"  # start streams 0..FIRST-1, then the rest
FIRST = 10
PING, PONG = "ping", "pong"
TICK_SECONDS = 0.1


def stream_out(i: int) -> str:
    return f"stream-{i}"


DASH45 = "dash45"  # W7's "server" for Dash 4.5 (uvicorn, in benchmarks/.venv-dash45)
# Flash's page served from that same venv (Flash on Dash 4.5's renderer, uvicorn): opt-in
# (`--w7-servers uvicorn,flash45,dash45`), it tells the renderer's share from Flash's own.
FLASH45 = "flash45"


def row_label(kind: str) -> str:
    """W7's row for a server kind: `flash/hypercorn`, `flash/uvicorn`, `dash45/uvicorn` or
    `flash-on-dash45/uvicorn`."""
    return {DASH45: "dash45/uvicorn", FLASH45: "flash-on-dash45/uvicorn"}.get(kind, f"flash/{kind}")
