"""W4: one event stream's throughput, in stream_props messages/s, over loopback.

Flash: one SSE response of N `props` messages from the `ticker` event callback. Dash 4.4 on
Quart: its closest equivalent, a `websocket=True` callback calling `set_props` N times (Dash
batches those into frames every 5 ms). The raw floor writes N SSE events itself. Both
producers await between messages, like a real source would.
"""
from __future__ import annotations

import time
import uuid
from typing import Any

from .. import apps
from ..client import Connection, post_json
from ..contenders import Server
from ..load import run_job
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
    raw = post_json(f"/_flash/stream/{stream_id}", port, apps.stream_body(apps.TICK_INPUT, count, uuid.uuid4().hex))
    conn = await Connection.open(port)
    start = time.perf_counter()
    conn.writer.write(raw)
    status, headers = await conn.read_head()
    if status != 200:
        raise RuntimeError(f"stream answered {status}: {await conn.read_body(headers)!r}")
    seen, tail, first = 0, b"", 0.0
    async for chunk in conn.chunks():
        if not first:
            first = time.perf_counter()
        data = tail + chunk
        seen += data.count(b"\nevent: props\n")
        tail = data[-20:]
        if b"\nevent: done\n" in data or b"\nevent: error\n" in data:
            break
    elapsed = time.perf_counter() - start
    conn.close()
    return {"messages": seen, "seconds": elapsed, "first_byte_ms": (first - start) * 1000}


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
    out = run_job("w4", {"port": server.port, "kind": kind, "count": cfg.w4_messages,
                         "stream_id": cfg.stream_ids.get("tick", "")},
                  timeout=300)
    cpu = server.cpu_seconds() - before  # includes the warm-up stream
    return {"msg_s": out["msg_s"], "cpu_us": cpu / (cfg.w4_messages + WARM_UP) * 1e6,
            "transport": "websocket" if kind == "ws" else "sse"}
