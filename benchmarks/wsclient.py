"""A minimal WebSocket client (wsproto over asyncio) for Dash 4.4's WebSocket callbacks.

Dash's nearest equivalent of a Flash stream is a `websocket=True` callback whose `set_props`
calls are pushed to the page; this speaks just enough of its protocol to run one and count.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import orjson
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Ping, RejectConnection, Request, TextMessage

from .client import HOST


class WebSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: WSConnection) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = conn
        self._partial: list[str] = []

    @classmethod
    async def connect(cls, port: int, path: str) -> "WebSocket":
        reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 22)
        conn = WSConnection(ConnectionType.CLIENT)
        origin = f"http://{HOST}:{port}".encode()
        writer.write(conn.send(Request(host=f"{HOST}:{port}", target=path, extra_headers=[(b"origin", origin)])))
        ws = cls(reader, writer, conn)
        while True:
            data = await reader.read(65536)
            if not data:
                raise ConnectionError("WebSocket handshake: connection closed")
            conn.receive_data(data)
            for event in conn.events():
                if isinstance(event, AcceptConnection):
                    return ws
                if isinstance(event, RejectConnection):
                    raise ConnectionError(f"WebSocket handshake rejected ({event.status_code})")

    def send_json(self, payload: Any) -> None:
        self.writer.write(self.conn.send(TextMessage(data=orjson.dumps(payload).decode())))

    async def messages(self) -> AsyncIterator[str]:
        """Whole text messages as they arrive, until the server closes."""
        while True:
            data = await self.reader.read(1 << 20)
            if not data:
                return
            self.conn.receive_data(data)
            for event in self.conn.events():
                if isinstance(event, TextMessage):
                    self._partial.append(event.data)
                    if event.message_finished:
                        yield "".join(self._partial)
                        self._partial.clear()
                elif isinstance(event, Ping):
                    self.writer.write(self.conn.send(event.response()))
                elif isinstance(event, CloseConnection):
                    return

    def close(self) -> None:
        self.writer.close()
