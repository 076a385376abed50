"""W12's client: N simulated browsers, each with its own endless stream, on Flash or on Dash 4.5.

Each browser speaks its framework's own streaming protocol, as its page's client does:

- Flash: a downlink (`POST /_flash/downlink`, SSE) and one run of the `frames` event callback
  started on it (`POST /_flash/stream/<id>`), as in W9's frames (`streams.py`).
- Dash 4.5 (its default, shared storage on): the uplink `POST /_dash-update-component?endId=
  <signed page token>&downlinkId=<browser>` with the callback's body plus `streamConnection`,
  answered with an ack; then the browser's downlink, the same URL with `{"streamDownlink":
  {"from": <cursor>}}`, an NDJSON response of `{"rid", "frame", "seq"}` lines. When a downlink
  response ends, the client reopens it from its cursor, as Dash's stream worker does (`cuts`).
  Every browser uses the page token of one page load and a downlink id of its own (Dash keys
  the topic on both), so no browser loads the page: neither does a Flash browser here.

Every frame is `{"f": <CLOCK_MONOTONIC ns at the yield>, "i": <n>}`; frame delay = arrival -
stamp (same host, same clock). Measured: frames stamped within `frames_s` seconds, starting
`warm_s` (2 s) after every stream has delivered its first frame, arriving up to `GRACE_S` after.
Lost: per stream, the gaps in `i` among those frames, plus `frames_s / period` for a stream
that sent none. Meanwhile one connection clicks the ordinary `soak-ping` callback every
`PING_GAP_S` (its latency), and the workers' CPU and RSS (psutil) are read.
"""

from __future__ import annotations

import asyncio
import gc
import re
import time
from typing import Any
from urllib.parse import quote

import orjson
import psutil

from . import apps
from .client import Connection, HTTPError, build_request, post_json
from .cluster import cpu_seconds
from .cluster_app import FRAME_PERIOD_S, FRAMES_INPUT, FRAMES_OUTPUT, PING
from .streams import ERROR, Downlink, Starters
from .workloads.w9_fanout import PARALLEL, STARTERS, gated

FRAME = re.compile(rb'"f":\s*(\d+),\s*"i":\s*(\d+)')
SEQ = re.compile(rb'"seq":\s*(\d+)')
END_ID = re.compile(rb'"end_id":\s*"([^"]+)"')
DASH_PATH = "/_dash-update-component"
WARM_S = 2.0
GRACE_S = 1.0
PING_GAP_S = 0.05


class Feed:
    """One browser's stream: when its first frame came, and the measured frames (i, stamp, arrival)."""

    __slots__ = ("first_ns", "frames")

    def __init__(self) -> None:
        self.first_ns = 0
        self.frames: list[tuple[int, int, int]] = []


class State:
    def __init__(self, streams: int) -> None:
        self.feeds = [Feed() for _ in range(streams)]
        self.from_ns = 1 << 62  # frames stamped from here on are kept
        self.cuts = 0
        self.failed = ""

    def block(self, feed: Feed, block: bytes) -> None:
        now = time.monotonic_ns()
        for match in FRAME.finditer(block):
            if not feed.first_ns:
                feed.first_ns = now
            stamp = int(match[1])
            if stamp >= self.from_ns:
                feed.frames.append((int(match[2]), stamp, now))
        if ERROR in block or b'"error"' in block:
            self.failed = self.failed or f"a stream failed: {block[:300]!r}"


class Pool:
    """Keep-alive connections for short requests (starts, uplinks), one request at a time each."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._free: asyncio.Queue[Connection] = asyncio.Queue()

    async def fill(self, count: int) -> "Pool":
        for _ in range(count):
            self._free.put_nowait(await Connection.open(self.port))
        return self

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        conn = await self._free.get()
        try:
            try:
                return await conn.request(raw)
            except (asyncio.IncompleteReadError, ConnectionError):  # an idle keep-alive closed: once more
                conn.close()
                conn = await Connection.open(self.port)
                return await conn.request(raw)
        finally:
            self._free.put_nowait(conn)

    def close(self) -> None:
        while not self._free.empty():
            self._free.get_nowait().close()


async def _flash_browser(
    state: State, k: int, up: Starters, up_port: int, down_port: int, stream_id: str, tasks: list[asyncio.Task[None]]
) -> None:
    downlink = await Downlink.open(down_port, timeout=120)

    async def read() -> None:
        try:
            async for block in downlink.blocks():
                state.block(state.feeds[k], block)
            state.cuts += 1  # Flash's client would resume it; this one counts it
        finally:
            downlink.close()

    tasks.append(asyncio.create_task(read()))
    await up.start(up_port, stream_id, FRAMES_INPUT, 1, downlink.token)


async def _dash_downlink(state: State, k: int, port: int, path: str) -> None:
    """The browser's downlink: read NDJSON lines; reopen from the cursor when the response ends."""
    cursor = 0
    while True:
        conn = await Connection.open(port, timeout=120)
        try:
            conn.writer.write(post_json(path, port, {"streamDownlink": {"from": cursor}}))
            status, headers = await conn.read_head()
            if status != 200:
                body = await conn.read_body(headers)
                state.failed = state.failed or f"downlink answered {status}: {body[:300]!r}"
                return
            tail = b""
            async for chunk in conn.chunks():
                data = tail + chunk if tail else chunk
                cut = data.rfind(b"\n") + 1
                if not cut:
                    tail = data
                    continue
                block, tail = data[:cut], data[cut:]
                state.block(state.feeds[k], block)
                seqs = SEQ.findall(block)
                if seqs:
                    cursor = int(seqs[-1])
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            conn.close()
        state.cuts += 1


async def _dash_browser(
    state: State, k: int, up: Pool, up_port: int, down_port: int, end_id: str, tasks: list[asyncio.Task[None]]
) -> None:
    path = f"{DASH_PATH}?endId={quote(end_id)}&downlinkId=b{k}"
    body = {**apps.callback_body((FRAMES_OUTPUT, FRAMES_INPUT)), "streamConnection": {"requestId": f"r{k}"}}
    status, answer = await up.request(post_json(path, up_port, body))
    if status != 200 or b'"stream"' not in answer:
        raise HTTPError(f"the stream's uplink answered {status}: {answer[:300]!r}")
    tasks.append(asyncio.create_task(_dash_downlink(state, k, down_port, path)))


async def _ping(port: int, stop: asyncio.Event, out: list[float]) -> None:
    conn = await Connection.open(port)
    n = 0
    try:
        while not stop.is_set():
            n += 1
            raw = post_json(DASH_PATH, port, apps.callback_body(PING, n))
            t0 = time.perf_counter()
            status, body = await conn.request(raw)
            out.append((time.perf_counter() - t0) * 1000)
            if status != 200 or f"pong {n}".encode() not in body:
                raise HTTPError(f"the ordinary callback answered {status}: {body[:200]!r}")
            await asyncio.sleep(PING_GAP_S)
    finally:
        conn.close()


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def _rss(pids: list[int]) -> int:
    return sum(psutil.Process(pid).memory_info().rss for pid in pids)


async def client(
    kind: str,
    ports: list[int],
    worker_pids: list[int],
    streams: int,
    frames_s: float,
    warm_s: float = WARM_S,
    stream_id: str = "",
    timeout: float = 120.0,
) -> dict[str, Any]:
    """`kind` "flash" or "dash45"; `ports`: two entries (one worker: its port twice). Browser k's
    downlink goes to ports[k % 2] and its start to ports[(k + k // 2) % 2]: with two workers half
    of the streams run away from their downlink, as a round-robin balancer would place them."""
    index = await Connection.open(ports[0])
    status, page = await index.request(build_request("GET", "/", ports[0]))
    index.close()
    if status != 200:
        raise HTTPError(f"GET / answered {status}")
    end_id = ""
    if kind == "dash45":
        found = END_ID.search(page)
        if not found:
            raise HTTPError("Dash 4.5's page has no end_id: is shared storage (its stream transport) off?")
        end_id = orjson.loads(b'"' + found[1] + b'"')
    state, tasks = State(streams), []
    pools: dict[int, Any] = {}
    for port in set(ports):
        pools[port] = await Starters.open(port, STARTERS) if kind == "flash" else await Pool(port).fill(STARTERS)
    rss0 = _rss(worker_pids)
    t0 = time.perf_counter()

    async def browser(k: int) -> None:
        up_port, down_port = ports[(k + k // 2) % 2], ports[k % 2]
        if kind == "flash":
            await _flash_browser(state, k, pools[up_port], up_port, down_port, stream_id, tasks)
        else:
            await _dash_browser(state, k, pools[up_port], up_port, down_port, end_id, tasks)

    stop, pings = asyncio.Event(), []
    try:
        await asyncio.wait_for(gated(streams, PARALLEL, browser), timeout)
        deadline = time.monotonic() + timeout
        while not all(f.first_ns for f in state.feeds):
            if state.failed or time.monotonic() > deadline:
                started = sum(1 for f in state.feeds if f.first_ns)
                raise RuntimeError(state.failed or f"{started:,} of {streams:,} streams sent a frame in {timeout:.0f} s")
            await asyncio.sleep(0.02)
        start_s = time.perf_counter() - t0
        await asyncio.sleep(warm_s)
        rss1 = _rss(worker_pids)
        pinger = asyncio.create_task(_ping(ports[0], stop, pings))
        # This process holds every browser's socket and frame: its own collector's pauses (a
        # full collection of that heap took up to 0.3 s at 10,000 browsers) would count as frame
        # delay. It keeps its garbage until the measuring ends instead (a few seconds' worth).
        gc.disable()
        cpu0, w0 = cpu_seconds(worker_pids), time.monotonic_ns()
        state.from_ns = w0
        await asyncio.sleep(frames_s)
        cpu, w1 = cpu_seconds(worker_pids) - cpu0, time.monotonic_ns()
        stop.set()
        await asyncio.sleep(GRACE_S)
        await pinger
    finally:
        gc.enable()
        stop.set()
        for task in tasks:
            task.cancel()
        for pool in pools.values():
            pool.close()
    if state.failed:
        raise RuntimeError(state.failed)
    nominal = round(frames_s / FRAME_PERIOD_S)
    delays, lost = [], 0
    for feed in state.feeds:
        mine = [(i, stamp, at) for i, stamp, at in feed.frames if stamp < w1 and at <= w1 + GRACE_S * 1e9]
        if not mine:
            lost += nominal
            continue
        seen = {i for i, _, _ in mine}
        lost += max(seen) - min(seen) + 1 - len(seen)
        delays += [(at - stamp) / 1e6 for _, stamp, at in mine]
    if not delays:
        raise RuntimeError("no frame arrived while measuring")
    delays.sort()
    pings.sort()
    return {
        "streams": streams,
        "frames": len(delays),
        "frames_per_s": len(delays) / frames_s,
        "frame_p50_ms": _pct(delays, 0.5),
        "frame_p95_ms": _pct(delays, 0.95),
        "frame_p99_ms": _pct(delays, 0.99),
        "lost_pct": 100 * lost / (lost + len(delays)),
        "cpu_us": cpu / len(delays) * 1e6,
        "kb_per_browser": (rss1 - rss0) / streams / 1024,
        "start_s": start_s,
        "cuts": state.cuts,
        "ping_p50_ms": _pct(pings, 0.5),
        "ping_p95_ms": _pct(pings, 0.95),
        "pings": len(pings),
    }
