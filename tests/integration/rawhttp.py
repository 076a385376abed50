"""A tiny asyncio HTTP/1.1 client for many concurrent downlinks: one socket each, no browser, no
client library (a thousand httpx streams cost the test more CPU than the servers under test).
Reads `Content-Length` and chunked bodies; what tests/integration/test_bus_thousand_streams.py
and test_redis_outages.py need, nothing more."""

from __future__ import annotations

import asyncio
import json
from typing import Any


def _request(port: int, path: str, body: Any) -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


class Response:
    """One response on its own connection; `read_some` appends decoded body bytes to `body`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.status = 0
        self.body = b""
        self.ended = False
        self._chunked = False
        self._left = -1  # bytes of the body (or of the current chunk) still to read
        self._raw = b""

    @classmethod
    async def post(cls, port: int, path: str, body: Any) -> "Response":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_request(port, path, body))
        response = cls(reader, writer)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        response.status = int(lines[0].split()[1])
        headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:] if line)}
        response._chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        if not response._chunked:
            response._left = int(headers.get("content-length", "-1"))
        return response

    async def read_some(self) -> bool:
        """Read what arrives next; False once the body ended (or the connection closed)."""
        if self.ended:
            return False
        data = await self.reader.read(65536)
        if not data:
            self.ended = True
            return False
        if not self._chunked:
            self.body += data
            if self._left >= 0 and len(self.body) >= self._left:
                self.ended = True
            return True
        self._raw += data
        while True:
            if self._left <= 0:
                line, sep, rest = self._raw.partition(b"\r\n")
                if not sep:
                    break
                if self._left == 0:  # the CRLF after a chunk
                    self._raw, self._left = rest, -1
                    continue
                size = int(line.split(b";")[0], 16)
                self._raw = rest
                if size == 0:
                    self.ended = True
                    return True
                self._left = size
            take = self._raw[: self._left]
            self.body += take
            self._raw = self._raw[len(take) :]
            self._left -= len(take)
            if self._left > 0:
                break
        return True

    async def read_all(self) -> bytes:
        while await self.read_some():
            pass
        self.close()
        return self.body

    def close(self) -> None:
        self.writer.close()


async def post_json(port: int, path: str, body: Any) -> tuple[int, Any]:
    response = await Response.post(port, path, body)
    raw = await response.read_all()
    return response.status, json.loads(raw or b"null")
