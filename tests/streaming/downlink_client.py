"""An in-process browser for the stream protocol: one downlink read through Quart's test client,
plus the short POSTs that start and close runs on it (see docs/streaming-protocol.md)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable, NamedTuple

from flash import Flash, html
from flash.testing.sse import parse_events
from tests.conftest import dep

JSON = {"Content-Type": "application/json"}


def make_app(**kwargs: Any) -> Flash:
    app = Flash(__name__, **kwargs)
    app.layout = html.Div([html.Button(id="go"), html.Div(id="out"), html.Div(id="side"), html.Div(id="rows")])
    return app


def start_body(token: Any, n: int = 1, rows: int = 3, **extra: Any) -> dict[str, Any]:
    """What the page posts to `_flash/stream/<id>` for a stream on Input go.n_clicks, State rows."""
    return {
        "inputs": [dep("go", "n_clicks", n)],
        "state": [dep("rows", "children", rows)],
        "changedPropIds": ["go.n_clicks"],
        "downlink": token,
        **extra,
    }


class Message(NamedTuple):
    event: str
    run: str
    seq: int
    data: Any


def run_id(handle: str) -> str:
    return handle.split(".", 1)[0]


async def setup(client: Any) -> None:
    await client.get("/")  # the first request takes the app's streams


async def post(client: Any, path: str, body: Any, headers: Any = None) -> tuple[int, Any]:
    """A short POST and its JSON answer (bounded: an answer that turns into a stream fails)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await asyncio.wait_for(client.post(path, data=raw, headers={**JSON, **(headers or {})}), 5)
    return response.status_code, await response.get_json()


async def wait_until(check: Callable[[], Any], turns: int = 250) -> Any:
    """Let the loop run until `check()` holds (bounded, so a broken server fails, not hangs)."""
    for _ in range(turns):
        if check():
            return True
        await asyncio.sleep(0.02)
    return check()


class Downlink:
    """An open `_flash/downlink` response, read chunk by chunk as the browser's hub would (or,
    with `body`, a start answered as a private line: its own SSE response)."""

    def __init__(
        self,
        client: Any,
        token: str | None = None,
        runs: dict[str, int] | None = None,
        headers: Any = None,
        path: str = "/_flash/downlink",
        body: Any = None,
    ) -> None:
        self.client = client
        self.conn = client.request(path, method="POST", headers={**JSON, **(headers or {})})
        self.body = json.dumps(body if body is not None else {"downlink": token, "runs": runs or {}}).encode()
        self.raw = b""
        self.token: str = ""
        self.resumed = False
        self.private = False
        self.ended = False

    async def __aenter__(self) -> "Downlink":
        await self.conn.__aenter__()
        await self.conn.send(self.body)
        await self.conn.send_complete()
        events = await self._read_until(lambda ev: len(ev) >= 1)
        assert self.conn.status_code == 200, self.raw
        assert self.conn.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        assert events[0]["event"] == "hello", events[0]
        hello = json.loads(events[0]["data"])
        self.token, self.resumed, self.private = hello["downlink"], hello["resumed"], hello.get("private", False)
        return self

    def started(self) -> list[str]:
        """The handles a private line announced (`event: started`)."""
        return [json.loads(e["data"])["run"] for e in parse_events(self.raw)[1:] if e["event"] == "started"]

    async def _read_until(self, predicate: Callable[[list[dict[str, str]]], bool], timeout: float = 5) -> list[dict[str, str]]:
        async def read() -> list[dict[str, str]]:
            while not predicate(parse_events(self.raw)):
                chunk = await self.conn.receive()
                if not chunk and self.ended:
                    raise AssertionError(f"the downlink ended early: {self.raw!r}")
                self.ended = self.ended or not chunk
                self.raw += chunk
            return parse_events(self.raw)

        return await asyncio.wait_for(read(), timeout)

    def messages(self, run: str | None = None) -> list[Message]:
        """Run messages received so far (after `hello`), optionally of one run (id or handle)."""
        found = []
        for event in parse_events(self.raw)[1:]:
            if event["event"] == "started":
                continue
            body = json.loads(event["data"])
            found.append(Message(event["event"], body["run"], body["seq"], body["data"]))
        return [m for m in found if run is None or m.run == run_id(run)]

    async def until(
        self, predicate: Callable[[list[Message]], bool], run: str | None = None, timeout: float = 5
    ) -> list[Message]:
        await self._read_until(lambda _: predicate(self.messages(run)), timeout)
        return self.messages(run)

    async def finished(self, handle: str, timeout: float = 5) -> list[Message]:
        """Every message of one run, up to and including its `done` or `error`."""
        return await self.until(lambda ms: bool(ms) and ms[-1].event in ("done", "error", "gone"), handle, timeout)

    async def heartbeats(self, count: int, timeout: float = 5) -> int:
        await self._read_until(lambda _: self.raw.count(b": heartbeat\n\n") >= count, timeout)
        return self.raw.count(b": heartbeat\n\n")

    async def start(self, stream_id: str, headers: Any = None, **body: Any) -> str:
        status, answer = await post(self.client, f"/_flash/stream/{stream_id}", start_body(self.token, **body), headers)
        assert status == 200, answer
        assert set(answer) == {"run"}
        return answer["run"]

    async def close(self, *handles: str) -> tuple[int, Any]:
        return await post(self.client, "/_flash/close", {"downlink": self.token, "runs": list(handles)})

    async def cut(self) -> None:
        """The browser goes away (a network drop): the server sees the connection close."""
        await self.conn.disconnect()
        await self._finish()

    async def _finish(self) -> None:
        try:
            await asyncio.wait_for(self.conn._task, 2)
        except Exception:  # a response task may end by cancellation
            pass
        while not self.conn._receive_queue.empty():
            chunk = self.conn._receive_queue.get_nowait()
            if isinstance(chunk, bytes):
                self.raw += chunk

    async def __aexit__(self, *exc: Any) -> None:
        await self.conn.disconnect()
        await self._finish()


def props_values(messages: list[Message], component: str = "out", prop: str = "children") -> list[Any]:
    """The values one prop took, in the order the run's `props` messages carried them."""
    return [props[prop] for m in messages if m.event == "props" for cid, props in m.data if cid == component and prop in props]
