"""A lean asyncio HTTP/1.1 client (keep-alive, Content-Length or chunked) plus a WebSocket one.

Load generators built on a general-purpose client measure the client; this one does the least
work that still checks every status code, so the server stays the bottleneck. It only ever
connects to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import orjson

HOST = "127.0.0.1"


def build_request(method: str, path: str, port: int, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """Serialize one HTTP/1.1 request once, so the hot loop only writes bytes."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def post_json(path: str, port: int, payload: Any, **headers: str) -> bytes:
    return build_request("POST", path, port, orjson.dumps(payload), {"Content-Type": "application/json", **headers})


class HTTPError(Exception):
    """The server answered, but not with what the benchmark needs (status or framing)."""


class Connection:
    """One keep-alive connection; requests on it run one at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, timeout: float = 10.0) -> "Connection":
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port, limit=1 << 20), timeout)
        return cls(reader, writer)

    async def read_head(self) -> tuple[int, dict[bytes, bytes]]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
        return status, headers

    async def read_body(self, headers: dict[bytes, bytes]) -> bytes:
        if b"content-length" in headers:
            return await self.reader.readexactly(int(headers[b"content-length"]))
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            return b"".join([chunk async for chunk in self.chunks()])
        return await self.reader.read()  # close-delimited

    async def chunks(self) -> AsyncIterator[bytes]:
        """The chunks of a chunked body, as they arrive."""
        while True:
            size_line = await self.reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return
            data = await self.reader.readexactly(size + 2)
            yield data[:-2]

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        return await self.response()

    async def response(self) -> tuple[int, bytes]:
        status, headers = await self.read_head()
        body = await self.read_body(headers)
        return status, body

    def close(self) -> None:
        self.writer.close()


async def open_many(port: int, count: int, parallel: int = 100) -> list[Connection]:
    """Open `count` connections, at most `parallel` connecting at once (keeps the backlog sane)."""
    gate = asyncio.Semaphore(parallel)

    async def one() -> Connection:
        async with gate:
            return await Connection.open(port)

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def fetch(port: int, raw: bytes) -> tuple[int, bytes]:
    """One request on a fresh connection."""
    conn = await Connection.open(port)
    try:
        return await conn.request(raw)
    finally:
        conn.close()


async def closed_loop(port: int, raw_requests: list[bytes], connections: int, seconds: float) -> dict[str, Any]:
    """wrk's job in Python (used when wrk is missing): each connection cycles the requests."""
    loop = asyncio.get_running_loop()
    conns = await open_many(port, connections)
    deadline = loop.time() + seconds
    counts = {"requests": 0, "errors": 0}

    async def drive(conn: Connection, offset: int) -> None:
        i = offset
        while loop.time() < deadline:
            status, _ = await conn.request(raw_requests[i % len(raw_requests)])
            counts["requests"] += 1
            counts["errors"] += status >= 400
            i += 1

    start = loop.time()
    await asyncio.gather(*(drive(c, k) for k, c in enumerate(conns)))
    elapsed = loop.time() - start
    for conn in conns:
        conn.close()
    return {"requests": counts["requests"], "errors": counts["errors"], "seconds": elapsed}
