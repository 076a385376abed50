"""A seeded corpus of malformed requests against real servers: no 5xx, no leaks, still healthy.

The corpus (`fuzz_corpus.py`, >= 10,000 requests from `random.Random(SEED)`) covers every
endpoint: callbacks, the three stream routes, layout, dependencies, component suites, assets, the
catch-all page and the pages router. It is sent over 16 concurrent keep-alive connections (a lean socket client: httpx
would cost more CPU than the server on 2 cores) to Hypercorn and
Uvicorn, each on the direct ASGI path (a plain app) and on the Quart path (the same app with a
`before_request` hook, plus `use_pages`, which always goes through Quart). Every answer must be
below 500; every error must be a JSON object with "error" and no traceback or filesystem path;
afterwards a good callback still answers 200. A few hundred raw-socket cases (malformed HTTP,
bodies cut short) must not get a 5xx either.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import sys
from urllib.parse import quote

import dash
import httpx
import pytest

from flash import ALL, MATCH, Flash, Input, Output, State, ctx, html
from flash.testing.runner import FlashRunner
from tests.conftest import callback_body, dep
from tests.integration.fuzz_corpus import Target, build_corpus

SEED = 20240610
CORPUS_SIZE = 10_500
RAW_CASES = 300
CONCURRENCY = 16
SECRET = "fuzz-test-secret-0123456789abcdef"
MAX_REQUEST_SIZE = 1_000_000
SERVERS = ["hypercorn", "uvicorn"]
PATHS = ["direct", "quart"]
LEAKS = ["Traceback", 'File "', os.getcwd(), sys.prefix, os.path.dirname(dash.__file__), "/root/", "site-packages"]


def kind(value):
    return type(value).__name__


def fuzz_app(path: str) -> tuple[Flash, Target]:
    pages = path == "quart"
    app = Flash(
        __name__,
        secret_key=SECRET,
        max_request_size=MAX_REQUEST_SIZE,
        **({"use_pages": True, "pages_folder": ""} if pages else {}),
    )
    items = [html.Button(id={"type": "item", "index": i}) for i in range(3)]
    cells = [html.Div(id={"type": "cell", "index": i}) for i in range(2)]
    layout = html.Div(
        [
            html.Button(id="btn"),
            html.Div(id="out"),
            html.Div(id="a"),
            html.Div(id="b"),
            html.Div(id="total"),
            html.Div(id="gx"),
            html.Div(id="gy"),
            html.Button(id="btn2"),
            html.Button(id="btn3"),
            html.Button(id="btn4"),
            html.Button(id="btn5"),
            html.Div(id="txt"),
            *items,
            *cells,
            *[html.Div(id={"type": "label", "index": i}) for i in range(3)],
        ]
    )
    if pages:
        from flash import page_container, register_page

        register_page("home", path="/", layout=layout)
        register_page("other", path="/page/<name>", layout=lambda name=None, **_: html.Div(kind(name)))
        app.layout = html.Div([page_container])

        @app.server.before_request
        async def hook():
            return None
    else:
        app.layout = layout

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"), State("txt", "children"))
    async def plain(n, txt):
        return f"{kind(n)} {kind(txt)}"

    @app.callback(Output("a", "children"), Output("b", "children"), Input("btn2", "n_clicks"))
    def multi(n):
        return kind(n), "b"

    @app.callback(Output({"type": "label", "index": MATCH}, "children"), Input({"type": "item", "index": MATCH}, "n_clicks"))
    async def match(n):
        return kind(n)

    @app.callback(Output("total", "children"), Input({"type": "item", "index": ALL}, "n_clicks"))
    def total(values):
        return kind(values)

    @app.callback(Output({"type": "cell", "index": ALL}, "children"), Input("btn3", "n_clicks"))
    async def cells_out(n):
        return [kind(n)] * len(ctx.outputs_list)

    @app.callback(output={"x": Output("gx", "children"), "y": Output("gy", "children")}, inputs={"n": Input("btn4", "n_clicks")})
    def grouped(n):
        return {"x": kind(n), "y": "y"}

    @app.callback(Input("btn5", "n_clicks"))
    def no_output(n):
        return None

    @app.event_callback(Input("btn", "n_clicks"), State("txt", "children"))
    async def ticker(n, txt):
        yield None

    item = {"type": "item", "index": 1}
    callbacks = [
        callback_body("out.children", [dep("btn", "n_clicks", 1)], [dep("txt", "children", "t")]),
        callback_body(
            "..a.children...b.children..",
            [dep("btn2", "n_clicks", 1)],
            outputs=[{"id": "a", "property": "children"}, {"id": "b", "property": "children"}],
        ),
        callback_body(
            '{"index":["MATCH"],"type":"label"}.children',
            [dep(item, "n_clicks", 2)],
            outputs={"id": {"type": "label", "index": 1}, "property": "children"},
            changed=[],
        ),
        callback_body("total.children", [[dep({"type": "item", "index": i}, "n_clicks", i) for i in range(3)]], changed=[]),
        callback_body(
            '{"index":["ALL"],"type":"cell"}.children',
            [dep("btn3", "n_clicks", 1)],
            outputs=[[{"id": {"type": "cell", "index": i}, "property": "children"} for i in range(2)]],
        ),
        callback_body(
            "..gx.children...gy.children..",
            [dep("btn4", "n_clicks", 1)],
            outputs=[{"id": "gx", "property": "children"}, {"id": "gy", "property": "children"}],
        ),
    ]
    target = Target(
        callbacks=callbacks,
        stream_body={
            "inputs": [dep("btn", "n_clicks", 1)],
            "state": [dep("txt", "children", "t")],
            "changedPropIds": ["btn.n_clicks"],
        },
        stream_ids=[ticker.stream_id],
        secret=SECRET,
        suite_paths=[],
    )
    return app, target


def complete_target(app: Flash, target: Target, index_html: str) -> None:
    """What the app only knows after its first request: its hidden server callbacks (the pages
    router; a stream's error reporter is clientside) and the component-suite URLs of its page."""
    for key, spec in app.callback_map.items():
        ids = [raw["id"] for raw in spec["inputs"]]
        if "_pages_location" in ids:
            target.callbacks.append(
                callback_body(
                    key,
                    [dep("_pages_location", "pathname", "/page/x"), dep("_pages_location", "search", "?a=1")],
                    outputs=[{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
                )
            )
        elif ids == ["btn5"]:
            target.callbacks.append(callback_body(key, [dep("btn5", "n_clicks", 1)], outputs=[]))
    suites = {src for src in index_html.split('"') if "_dash-component-suites/" in src}
    target.suite_paths = sorted(src for src in suites if "flash.client" in src or "/deps/" in src)


async def first_request(app: Flash) -> str:
    response = await app.server.test_client().get("/")
    return (await response.get_data()).decode()


def raw_cases(rng: random.Random, port: int, stream_id: str) -> list[bytes]:
    """Bytes httpx would never send: broken request lines and headers, bodies cut short."""
    host = f"Host: 127.0.0.1:{port}\r\n"
    body = json.dumps(callback_body("out.children", [dep("btn", "n_clicks", 1)], [dep("txt", "children", "t")]))
    paths = ["/_dash-update-component", "/_flash/downlink", "/_flash/close", f"/_flash/stream/{stream_id}", "/_dash-layout", "/"]
    cases = []
    for _ in range(RAW_CASES):
        path = rng.choice(paths)
        pick = rng.randrange(8)
        if pick == 0:  # garbage request line
            cases.append(bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 80))) + b"\r\n\r\n")
        elif pick == 1:  # a body shorter than its Content-Length (the client then stops sending)
            cases.append(
                f"POST {path} HTTP/1.1\r\n{host}Content-Type: application/json\r\n"
                f"Content-Length: {len(body) + rng.randrange(1, 500)}\r\n\r\n{body}".encode()
            )
        elif pick == 2:  # bad chunked encoding
            cases.append(
                f"POST {path} HTTP/1.1\r\n{host}Content-Type: application/json\r\n"
                f"Transfer-Encoding: chunked\r\n\r\n{rng.choice(['zz', '-1', 'ffffffffffff', '5'])}\r\n"
                f"{body[:5]}\r\n0\r\n\r\n".encode()
            )
        elif pick == 3:  # control characters in the path and headers
            cases.append(
                f"GET /{rng.choice(['%0d%0a', '%00', '%ff', 'a%2fb'])}{path} HTTP/1.1\r\n{host}"
                f"X-Note: {rng.choice(['a', 'b'])}\x7f\r\n\r\n".encode("latin1")
            )
        elif pick == 4:  # two Content-Lengths
            cases.append(
                f"POST {path} HTTP/1.1\r\n{host}Content-Type: application/json\r\nContent-Length: 2\r\n"
                f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
            )
        elif pick == 5:  # HTTP/1.0 without a Host
            cases.append(
                f"POST {path} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode()
            )
        elif pick == 6:  # a Latin-1 body and a non-ASCII Content-Type
            raw = body.replace('"t"', '"\xe9"').encode("latin1")
            cases.append(
                f"POST {path} HTTP/1.1\r\n{host}Content-Type: application/json; charset=\xe9\r\n"
                f"Content-Length: {len(raw)}\r\n\r\n".encode("latin1")
                + raw
            )
        else:  # a huge header
            cases.append(f"GET {path} HTTP/1.1\r\n{host}X-Big: {'x' * rng.randrange(10_000, 100_000)}\r\n\r\n".encode())
    return cases


async def send_raw(port: int, data: bytes) -> int | None:
    """The status the server answers `data` with (None: it closed or said nothing in time)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    try:
        writer.write(data)
        await writer.drain()
        if b"Content-Length: " in data and data.split(b"\r\n\r\n", 1)[0].count(b"Content-Length") == 1:
            writer.write_eof()
        line = await asyncio.wait_for(reader.readline(), 2)
        parts = line.split()
        return int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") and parts[1].isdigit() else None
    except (OSError, asyncio.TimeoutError, ValueError):
        return None
    finally:
        writer.close()


class Report:
    def __init__(self) -> None:
        self.statuses: collections.Counter = collections.Counter()
        self.kinds: collections.Counter = collections.Counter()
        self.failures: list[str] = []

    def fail(self, case, why: str) -> None:
        if len(self.failures) < 20:
            self.failures.append(f"{why}: {case.method} {case.path[:120]!r} {case.headers} {case.body[:200]!r}")


class Connection:
    """One keep-alive HTTP/1.1 connection, as lean as possible (the client shares 2 cores with
    the server): write a request, read the status line, headers and body."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.retries = 0
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, case) -> tuple[int, dict[str, str], bytes]:
        reused = self.writer is not None
        try:
            return await self._request(case)
        except (OSError, asyncio.IncompleteReadError, IndexError):
            if not reused:
                raise
        # The server closed the kept-alive connection (as it may after a body it did not read,
        # e.g. a 415): like any HTTP client, send again once on a new connection.
        self.close()
        self.retries += 1
        return await self._request(case)

    async def _request(self, case) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.reader, self.writer
        lines = [f"{case.method} {quote(case.path, safe=URL_SAFE)} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"{name}: {value}" for name, value in case.headers.items()]
        if case.body or case.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(case.body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin1") + case.body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 20)
        status = int(status_line.split()[1])  # IndexError: closed before answering
        headers = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("content-type", "").startswith("text/event-stream"):
            self.close()  # a stream opened: done with it (and with its connection)
            return status, headers, b""
        if case.method == "HEAD" or status in (204, 304):
            body = b""
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                parts.append(await reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(parts)[:-2]
        else:
            body = await reader.read()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body


URL_SAFE = "/%?=&:@!$'()*+,;~-._"


def unanswered_is_fair(case) -> bool:
    """A server may hang up on a body it refused unread: one over the size limit, or a body
    where none belongs (a GET or HEAD with a body)."""
    return len(case.body) > MAX_REQUEST_SIZE or (case.body and case.method in ("GET", "HEAD", "OPTIONS", "TRACE"))


async def send_case(connection: Connection, case, report: Report) -> None:
    try:
        status, headers, body = await connection.request(case)
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, IndexError) as err:
        connection.close()
        if unanswered_is_fair(case):
            report.statuses["cut"] += 1
        else:
            report.fail(case, f"no answer ({type(err).__name__}, {len(case.body)} bytes)")
        return
    report.statuses[status] += 1
    report.kinds[case.kind] += 1
    if status >= 500:
        report.fail(case, f"status {status} {body[:300]!r}")
    if status >= 400 and case.method != "HEAD":
        text = body.decode("utf-8", "replace")
        try:
            answer = json.loads(body)
        except ValueError:
            report.fail(case, f"error {status} is not JSON: {body[:200]!r}")
            return
        if not isinstance(answer, dict) or not isinstance(answer.get("error"), str) or answer.get("status") != status:
            report.fail(case, f"error {status} has no error/status: {body[:200]!r}")
        leaked = [leak for leak in LEAKS if leak in text]
        if leaked:
            report.fail(case, f"error {status} leaks {leaked}: {body[:300]!r}")


async def fuzz(port: int, cases, raw: list[bytes]) -> tuple[Report, list]:
    report = Report()
    queue = iter(cases)

    async def worker() -> None:
        connection = Connection(port)
        try:
            for case in queue:
                await send_case(connection, case, report)
        finally:
            connection.close()
            report.statuses["retried"] += connection.retries

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    raw_statuses = []
    raw_queue = iter(raw)

    async def raw_worker() -> None:
        for data in raw_queue:
            raw_statuses.append(await send_raw(port, data))

    await asyncio.gather(*(raw_worker() for _ in range(CONCURRENCY)))
    return report, raw_statuses


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("server", SERVERS)
def test_malformed_requests_never_get_a_5xx(server, path):
    app, target = fuzz_app(path)
    index = asyncio.run(first_request(app))  # in this process: wires the hidden callbacks the corpus targets
    runner = FlashRunner()
    try:
        url = runner.start(app, server=server)
        complete_target(app, target, index)
        assert target.suite_paths and len(target.callbacks) >= 7
        cases = build_corpus(SEED, target, CORPUS_SIZE)
        raw = raw_cases(random.Random(SEED + 1), runner.port, target.stream_ids[0])
        report, raw_statuses = asyncio.run(fuzz(runner.port, cases, raw))
        healthy = httpx.post(url + "/_dash-update-component", json=target.callbacks[0], timeout=10).status_code
        alive = runner.proc.is_alive()
    finally:
        runner.stop()
    summary = {
        "server": server,
        "path": path,
        "requests": len(cases),
        "raw": len(raw),
        "statuses": dict(sorted(report.statuses.items(), key=str)),
        "raw_statuses": dict(collections.Counter(str(s) for s in raw_statuses)),
        "kinds": dict(sorted(report.kinds.items())),
    }
    print("fuzz", json.dumps(summary))
    assert not report.failures, "\n".join(report.failures)
    assert sum(n for s, n in report.statuses.items() if s != "retried") == len(cases)
    assert not [s for s in raw_statuses if s is not None and s >= 500]
    assert alive and healthy == 200
    # The corpus reaches every kind of answer: it is not all refused at the door.
    assert {200, 204, 400, 403, 404, 405, 409, 413, 415} <= set(report.statuses)
