"""W1: in-process cost of one trivial callback request, calling the ASGI app directly.

No sockets and no server: a fake `receive`/`send` pair drives the app, so the figure is the
framework's own per-request cost. Dash on Flask is driven through WSGI the same way, for
reference. Each measurement runs in a fresh interpreter (`python -m` this module).
"""

from __future__ import annotations

import asyncio
import io
import json
import statistics
import sys
import time
from typing import Any, Callable

import orjson

from .. import apps
from . import Config, Metric

NAME = "W1"
TITLE = "in-process cost of one trivial callback request"
TARGET = "Flash <= 1/3 of Dash 4.4 quart's us/request"
METRICS = [
    Metric("async_us", "us/req", False, "async callback"),
    Metric("sync_us", "us/req", False, "sync callback"),
]
APPS = {"flash": "flash", "dash-quart": "dash_quart", "dash-flask": "dash_flask", "raw": "raw"}
EXPECTED = {"multi": True, "response": {"out": {"children": "clicked 1"}}}


class AsgiClient:
    """Drives an ASGI app in-process: lifespan once, then one scope per request."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state: dict[str, Any] = {}

    async def startup(self) -> None:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        started = asyncio.get_running_loop().create_future()
        await queue.put({"type": "lifespan.startup"})

        async def send(message: dict[str, Any]) -> None:
            if message["type"].startswith("lifespan.startup") and not started.done():
                started.set_result(message["type"])

        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.3"}, "state": self.state}
        self._lifespan = asyncio.create_task(self.app(scope, queue.get, send))
        if await started != "lifespan.startup.complete":
            raise RuntimeError("lifespan startup failed")

    def _scope(self, method: str, path: str, body: bytes) -> dict[str, Any]:
        headers = [(b"host", b"127.0.0.1:8050"), (b"content-length", str(len(body)).encode())]
        if body:
            headers.append((b"content-type", b"application/json"))
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8050),
            "state": dict(self.state),
            "extensions": {},
        }

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        scope = self._scope(method, path, body)
        finished = asyncio.Event()
        pending = [{"type": "http.request", "body": body, "more_body": False}]
        out: dict[str, Any] = {"status": 0, "body": []}

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop()
            await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
            elif message["type"] == "http.response.body":
                out["body"].append(message.get("body", b""))
                if not message.get("more_body"):
                    finished.set()

        await self.app(scope, receive, send)
        return out["status"], b"".join(out["body"])

    def open_stream(self, path: str, body: bytes, on_body: Callable[[bytes], None]) -> Callable[[], None]:
        """POST whose answer streams (a downlink): `on_body` gets each body chunk as it is sent.
        Returns what disconnects it (the app sees `http.disconnect`)."""
        scope = self._scope("POST", path, body)
        gone = asyncio.Event()
        pending = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop()
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                on_body(message["body"])

        task = asyncio.ensure_future(self.app(scope, receive, send))

        def disconnect() -> None:
            gone.set()  # `task` ends once the app sees it

        disconnect.task = task  # type: ignore[attr-defined]  # keeps the task referenced
        return disconnect


class WsgiClient:
    """The same for a WSGI app (Dash on Flask)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SCRIPT_NAME": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8050",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8050",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        status: list[str] = []
        result = self.app(environ, lambda s, h, e=None: status.append(s))
        try:
            data = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        return int(status[0].split()[0]), data


def _check(status: int, data: bytes, expected: dict[str, Any]) -> None:
    if status != 200 or orjson.loads(data) != expected:
        raise RuntimeError(f"unexpected callback answer {status}: {data[:300]!r}")


def _time_loop(call: Callable[[], Any], iterations: int) -> float:
    """Median us/request over 5 batches (the first 10% of calls are warm-up)."""
    for _ in range(max(50, iterations // 10)):
        call()
    per_batch = max(1, iterations // 5)
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(per_batch):
            call()
        samples.append((time.perf_counter() - start) / per_batch * 1e6)
    return statistics.median(samples)


def _expected(target: tuple[str, str]) -> dict[str, Any]:
    return {"multi": True, "response": {target[0]: {"children": "clicked 1"}}}


async def measure_asgi(app: Any, iterations: int) -> dict[str, float]:
    client = AsgiClient(app)
    await client.startup()
    status, _ = await client.request("GET", "/")  # first request: Dash's setup
    if status != 200:
        raise RuntimeError(f"GET / answered {status}")
    result = {}
    for key, target in (("async_us", apps.TRIVIAL_ASYNC), ("sync_us", apps.TRIVIAL_SYNC)):
        body = orjson.dumps(apps.callback_body(target))
        _check(*await client.request("POST", "/_dash-update-component", body), _expected(target))

        async def batch(n: int, body: bytes = body) -> None:
            for _ in range(n):
                await client.request("POST", "/_dash-update-component", body)

        # Time whole batches inside the loop so the event loop's own cost is included once.
        result[key] = await _time_async(batch, iterations)
    return result


async def _time_async(batch: Callable[[int], Any], iterations: int) -> float:
    await batch(max(50, iterations // 10))
    per_batch = max(1, iterations // 5)
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        await batch(per_batch)
        samples.append((time.perf_counter() - start) / per_batch * 1e6)
    return statistics.median(samples)


def measure_wsgi(app: Any, iterations: int) -> dict[str, float]:
    client = WsgiClient(app)
    client.request("GET", "/")
    body = orjson.dumps(apps.callback_body(apps.TRIVIAL_SYNC))
    _check(*client.request("POST", "/_dash-update-component", body), _expected(apps.TRIVIAL_SYNC))
    sync_us = _time_loop(lambda: client.request("POST", "/_dash-update-component", body), iterations)
    return {"sync_us": sync_us}  # Dash on Flask without asgiref cannot run async callbacks


def applies(contender: str) -> bool:
    return contender in APPS


def measure_inprocess(contender: str, cfg: Config) -> dict[str, float]:
    from ..load import run_job_module

    return run_job_module(__name__, [APPS[contender], str(cfg.w1_iterations)], timeout=600)


def main() -> None:
    from ..serve import make

    name, iterations = sys.argv[1], int(sys.argv[2])
    app = make(name)
    if name == "dash_flask":
        result = measure_wsgi(app, iterations)
    else:
        result = asyncio.run(measure_asgi(app, iterations))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
