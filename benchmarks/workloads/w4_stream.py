"""W4: one event stream's throughput, in stream_props messages/s, over loopback.

Flash: a browser's downlink (`POST /_flash/downlink`, one SSE response) and one run of the
`ticker` event callback started on it (`POST /_flash/stream/<id>` on another connection); its N
`props` messages and its `done` arrive on the downlink. Timed from the start request to `done`.
Dash 4.4 on Quart: its closest equivalent, a `websocket=True` callback calling `set_props` N
times (Dash batches those into frames every 5 ms). The raw floor serves the same downlink and
start protocol, bytes written by hand. Every producer awaits between messages, like a real
source would.
"""

from __future__ import annotations

import time
from typing import Any

from .. import apps
from ..client import Connection
from ..contenders import Server
from ..load import run_job
from ..streams import DONE, ERROR, PROPS, Downlink, start_run
from ..wsclient import WebSocket
from . import Config, Metric

NAME = "W4"
TITLE = "one event stream: messages/s"
TARGET = ">= 20,000 msg/s (Flash)"
METRICS = [Metric("msg_s", "msg/s", True, "messages/s"), Metric("cpu_us", "us/msg", False, "server CPU per message")]
WARM_UP = 100


def applies(contender: Any) -> bool:
    return contender.app in ("flash", "raw", "dash_quart")


async def sse_stream(port: int, stream_id: str, count: int) -> dict[str, Any]:
    """Open a downlink, start the tick stream on it (another connection), read until its `done`."""
    downlink = await Downlink.open(port)
    starter = await Connection.open(port)
    try:
        start = time.perf_counter()
        await start_run(starter, port, stream_id, apps.TICK_INPUT, count, downlink.token)
        started = time.perf_counter()
        seen, first = 0, 0.0
        async for block in downlink.blocks():
            if not first:
                first = time.perf_counter()
            seen += block.count(PROPS)
            if DONE in block or ERROR in block:
                break
        elapsed = time.perf_counter() - start
    finally:
        starter.close()
        downlink.close()
    return {"messages": seen, "seconds": elapsed, "start_ms": (started - start) * 1000, "first_byte_ms": (first - start) * 1000}


async def ws_stream(port: int, count: int) -> dict[str, Any]:
    ws = await WebSocket.connect(port, "/_dash-ws-callback")
    payload = apps.callback_body(apps.WS_STREAM, count)
    start = time.perf_counter()
    ws.send_json({"type": "callback_request", "requestId": "r1", "rendererId": "bench", "payload": payload})
    seen = 0
    async for text in ws.messages():
        seen += text.count('"type":"set_props"')
        if '"type":"callback_response"' in text:
            break
    elapsed = time.perf_counter() - start
    ws.close()
    return {"messages": seen, "seconds": elapsed}


async def client(port: int, kind: str, count: int, stream_id: str = "") -> dict[str, Any]:
    """A short warm-up stream, then the measured one."""
    if kind == "ws":
        await ws_stream(port, WARM_UP)
        result = await ws_stream(port, count)
    else:
        await sse_stream(port, stream_id, WARM_UP)
        result = await sse_stream(port, stream_id, count)
    if result["messages"] != count:
        raise RuntimeError(f"expected {count} messages, got {result['messages']}")
    result["msg_s"] = count / result["seconds"]
    return result


def measure(server: Server, cfg: Config) -> dict[str, Any]:
    kind = "ws" if server.contender.app == "dash_quart" else "sse"
    before = server.cpu_seconds()
    out = run_job(
        "w4",
        {"port": server.port, "kind": kind, "count": cfg.w4_messages, "stream_id": cfg.stream_ids.get("tick", "")},
        timeout=300,
    )
    cpu = server.cpu_seconds() - before  # includes the warm-up stream
    return {
        "msg_s": out["msg_s"],
        "cpu_us": cpu / (cfg.w4_messages + WARM_UP) * 1e6,
        "transport": "websocket" if kind == "ws" else "sse",
    }
