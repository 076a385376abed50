"""The stream protocol from the client's side, lean enough that the server stays the bottleneck.

One browser holds one SSE *downlink* (`POST /_flash/downlink`); it starts *runs* on it with short
`POST /_flash/stream/<stream_id>` requests (answered `{"run": <handle>}`) on other connections,
and every run's messages arrive on the downlink as `event: props|done|error|gone` with
`{"run": <run id>, "seq": N, "data": ...}`. Used by W4, W5 and W8 against Flash and the raw app
(`raw.py` serves the same bytes by hand). Only ever connects to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import orjson

from . import apps
from .client import Connection, HTTPError, post_json

DOWNLINK_PATH = "/_flash/downlink"
CLOSE_PATH = "/_flash/close"
PROPS, DONE, ERROR, HEARTBEAT = b"event: props\n", b"event: done\n", b"event: error\n", b": heartbeat"


def start_path(stream_id: str) -> str:
    return f"/_flash/stream/{stream_id}"


class Downlink:
    """One open downlink response; `blocks()` yields its bytes cut after whole events."""

    def __init__(self, conn: Connection, token: str, chunks: AsyncIterator[bytes], tail: bytes) -> None:
        self.conn = conn
        self.token = token
        self._chunks = chunks
        self._tail = tail
        self.resumed = False  # what the `hello` said

    @classmethod
    async def open(
        cls, port: int, timeout: float = 30.0, token: str | None = None, runs: dict[str, int] | None = None
    ) -> "Downlink":
        """Connect, ask for a new downlink (or, with `token` and `runs` {handle: last seq seen},
        resume one) and read up to its `hello` (which names the token)."""
        conn = await Connection.open(port, timeout=timeout)
        conn.writer.write(post_json(DOWNLINK_PATH, port, {"downlink": token, "runs": runs or {}}))
        status, headers = await asyncio.wait_for(conn.read_head(), timeout)
        if status != 200:
            body = await conn.read_body(headers)
            conn.close()
            raise HTTPError(f"downlink answered {status}: {body[:300]!r}")
        chunks = conn.chunks()
        data = b""
        while b"\n\n" not in data:
            data += await asyncio.wait_for(chunks.__anext__(), timeout)
        first, _, tail = data.partition(b"\n\n")
        if not first.startswith(b"event: hello\n"):
            conn.close()
            raise HTTPError(f"the downlink did not open with hello: {first[:200]!r}")
        hello = orjson.loads(first.split(b"\ndata: ", 1)[1])
        downlink = cls(conn, hello["downlink"], chunks, tail)
        downlink.resumed = bool(hello.get("resumed"))
        return downlink

    async def blocks(self) -> AsyncIterator[bytes]:
        """Whole events (and heartbeat comments) as they arrive, several per block."""
        if b"\n\n" in self._tail:
            cut = self._tail.rindex(b"\n\n") + 2
            block, self._tail = self._tail[:cut], self._tail[cut:]
            yield block
        async for chunk in self._chunks:
            data = self._tail + chunk if self._tail else chunk
            cut = data.rfind(b"\n\n") + 2
            if cut < 2:  # no event ended in this chunk
                self._tail = data
                continue
            self._tail = data[cut:]
            yield data[:cut] if cut < len(data) else data

    def close(self) -> None:
        self.conn.close()


async def start_run(conn: Connection, port: int, stream_id: str, trigger: str, value: Any, token: str) -> str:
    """Start one run of `stream_id` on downlink `token` over a keep-alive connection; its handle."""
    status, body = await conn.request(post_json(start_path(stream_id), port, apps.stream_body(trigger, value, token)))
    if status != 200:
        raise HTTPError(f"start answered {status}: {body[:300]!r}")
    return orjson.loads(body)["run"]


class Starters:
    """A pool of keep-alive connections for start requests, each used by one request at a time."""

    def __init__(self, conns: list[Connection]) -> None:
        self.conns = conns
        self.reconnects = 0
        self._free: asyncio.Queue[Connection] = asyncio.Queue()
        for conn in conns:
            self._free.put_nowait(conn)

    @classmethod
    async def open(cls, port: int, count: int) -> "Starters":
        return cls([await Connection.open(port) for _ in range(count)])

    async def start(self, port: int, stream_id: str, trigger: str, value: Any, token: str) -> str:
        conn = await self._free.get()
        try:
            try:
                return await start_run(conn, port, stream_id, trigger, value, token)
            except (asyncio.IncompleteReadError, ConnectionError):
                # The server closed this idle keep-alive connection (its keep-alive timeout) before
                # reading the request, as it may when 10,000 open downlinks keep it busy: reconnect.
                conn.close()
                self.reconnects += 1
                self.conns.remove(conn)
                conn = await Connection.open(port)
                self.conns.append(conn)
                return await start_run(conn, port, stream_id, trigger, value, token)
        finally:
            self._free.put_nowait(conn)

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
