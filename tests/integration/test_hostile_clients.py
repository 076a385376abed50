"""Hostile clients all at once against a real Hypercorn worker (issue 22): many downlinks that
stop reading, the most runs each allows, big start bodies, close floods. The worker's RSS stays
under `Limits.memory_bound()` (what docs/streaming-protocol.md states), an ordinary Dash callback
still answers meanwhile, and once the clients give up every run and downlink is gone within the
write timeout plus the resume window. Limits are scaled down so the test stays small; the bound
is computed from them by the same code that gives the documented figure at defaults."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time

from flash import Flash, Input, Output, html, stream_props
from flash.testing.runner import FlashRunner
from tests.streaming.probe import Probe
from tests.streaming.stream_apps import request_bytes, start_body

TOKEN = re.compile(rb'"downlink":\s*"([^"]+)"')
MESSAGE = "x" * 20_000  # each stream yields 20 KB messages as fast as it may
OPTIONS = dict(
    max_downlinks=100,
    max_downlinks_per_address=60,
    max_streams=150,
    max_streams_per_address=120,
    max_streams_per_client=2,
    max_stream_start_bytes=256 * 1024,
    stream_start_budget=2**20,
    stream_replay_bytes=256 * 1024,
    stream_buffer_bytes=64 * 1024,
    stream_write_timeout=2.0,
    stream_resume_window=1.0,
)


def hostile_app() -> tuple[Flash, str]:
    app = Flash(__name__, **OPTIONS)
    app.layout = html.Div([html.Button("go", id="go"), html.Div(id="out"), html.Div(id="echo")])
    Probe(app)

    @app.callback(Output("echo", "children"), Input("go", "n_clicks"))
    def echo(n):
        return f"clicked {n}"

    @app.event_callback(Input("go", "n_clicks"))
    async def flood(n):
        while True:
            yield stream_props("out", {"children": MESSAGE})
            await asyncio.sleep(0)

    return app, flood.stream_id


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def post(port: int, path: str, raw: bytes, send_body: bool = True) -> tuple[int, bytes]:
    """One request on its own connection; the status and body of a short answer. Without
    `send_body` only the head goes (a body the server should refuse by its Content-Length)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\nConnection: close\r\n\r\n"
        ).encode()
        writer.write(head + raw if send_body else head)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 20)
        status = int(data.split(b" ", 2)[1]) if data else 0
        return status, data.split(b"\r\n\r\n", 1)[-1]
    finally:
        writer.close()


async def stalled_downlink(port: int) -> tuple[asyncio.StreamWriter, str | None, int]:
    """A downlink whose reader takes `hello`, then never reads again (a tiny receive window)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(request_bytes(port, "/_flash/downlink", {"downlink": None, "runs": {}}))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status = int(head.split(b" ", 2)[1])
    if status != 200:
        return writer, None, status
    hello = await asyncio.wait_for(reader.readuntil(b"\n\n"), 10)
    found = TOKEN.search(hello)
    return writer, found.group(1).decode() if found else None, status


def test_hostile_clients_cannot_push_a_worker_past_its_memory_bound(capfd):
    app, stream_id = hostile_app()
    bound = app.limits.memory_bound(message_bytes=len(MESSAGE) + 200, replay_size=app.stream_replay_size)
    runner = FlashRunner()
    runner.start(app, server="hypercorn")
    port, pid = runner.port, runner.proc.pid
    callback = json.dumps(
        {
            "output": "echo.children",
            "outputs": {"id": "echo", "property": "children"},
            "inputs": [{"id": "go", "property": "n_clicks", "value": 1}],
            "changedPropIds": ["go.n_clicks"],
            "state": [],
        }
    ).encode()
    try:

        async def attack() -> dict:
            assert (await post(port, "/_dash-update-component", callback))[0] == 200  # warm
            baseline = rss(pid)
            peak = baseline
            seen: dict = {"downlinks": [], "starts": [], "big": [], "close": [], "callback": []}
            sockets = []

            async def sample() -> None:
                nonlocal peak
                while True:
                    peak = max(peak, rss(pid))
                    await asyncio.sleep(0.05)

            sampler = asyncio.ensure_future(sample())
            try:
                opened = await asyncio.gather(*(stalled_downlink(port) for _ in range(70)))
                sockets.extend(writer for writer, _, _ in opened)
                seen["downlinks"] = [status for _, _, status in opened]
                tokens = [token for _, token, _ in opened if token]
                # The most runs each downlink allows (and more), big starts and close floods at once.
                starts = [
                    post(port, f"/_flash/stream/{stream_id}", json.dumps(start_body(token)).encode())
                    for token in tokens
                    for _ in range(OPTIONS["max_streams_per_client"] + 2)
                ]
                big = [
                    post(
                        port,
                        f"/_flash/stream/{stream_id}",
                        json.dumps({**start_body(tokens[0]), "pad": "y" * 2 * 2**20}).encode(),
                        send_body=False,
                    )
                    for _ in range(20)
                ]
                flood = [
                    post(
                        port,
                        "/_flash/close",
                        json.dumps({"downlink": tokens[i % len(tokens)], "runs": [f"r{j}.sig" for j in range(5000)]}).encode(),
                    )
                    for i in range(30)
                ]
                results = await asyncio.gather(*starts, *big, *flood)
                seen["starts"] = [status for status, _ in results[: len(starts)]]
                seen["big"] = [status for status, _ in results[len(starts) : len(starts) + len(big)]]
                seen["close"] = [status for status, _ in results[len(starts) + len(big) :]]
                # The streams fill every stalled reader's window and queue; an ordinary callback answers.
                for _ in range(3):
                    await asyncio.sleep(0.5)
                    started = time.monotonic()
                    status, body = await post(port, "/_dash-update-component", callback)
                    seen["callback"].append((status, b"clicked 1" in body, time.monotonic() - started))
                state = json.loads((await post_get(port, "/_probe")))
                seen["live_at_peak"] = state["live"]
            finally:
                sampler.cancel()
            seen["peak"], seen["baseline"] = peak, baseline
            # The clients never read again: each downlink with runs is cut after
            # stream_write_timeout and its runs end after stream_resume_window. Idle ones (only
            # heartbeats, which fit the window) stay open until the clients go, then expire.
            seen["ended_after"], seen["end_state"] = await until_state(port, lambda s: s["live"] == 0)
            for writer in sockets:
                writer.close()
            seen["gone_after"], seen["gone_state"] = await until_state(port, lambda s: s["downlinks"] == 0)
            return seen

        seen = asyncio.run(attack())
    finally:
        runner.stop()
    grew = seen["peak"] - seen["baseline"]
    output = capfd.readouterr()
    with capfd.disabled():
        print(
            f"\nRSS {seen['baseline'] / 2**20:.0f} MiB -> peak {seen['peak'] / 2**20:.0f} MiB "
            f"(+{grew / 2**20:.0f} MiB; bound {bound / 2**20:.0f} MiB); runs ended after {seen['ended_after']:.1f} s"
        )
    assert "Traceback" not in output.out + output.err, (output.out + output.err)[-3000:]
    assert seen["downlinks"].count(200) == OPTIONS["max_downlinks_per_address"]
    assert set(seen["downlinks"]) == {200, 429}, "past max_downlinks_per_address: 429"
    assert seen["starts"].count(200) == OPTIONS["max_streams_per_address"], seen["starts"]
    assert set(seen["starts"]) <= {200, 429}
    assert seen["live_at_peak"] == OPTIONS["max_streams_per_address"]
    assert set(seen["big"]) == {413}, seen["big"]
    assert set(seen["close"]) == {400}, seen["close"]
    assert all(ok and status == 200 for status, ok, _ in seen["callback"]), seen["callback"]
    assert grew < bound, f"the worker grew {grew / 2**20:.0f} MiB, over its bound of {bound / 2**20:.0f} MiB"
    # Within about stream_write_timeout + stream_resume_window (2 + 1 s), with room for a busy machine.
    assert seen["end_state"]["live"] == 0 and seen["ended_after"] < 10, seen
    assert seen["gone_state"]["downlinks"] == 0 and seen["gone_after"] < 10, seen


async def until_state(port: int, check, timeout: float = 15) -> tuple[float, dict]:
    started = time.monotonic()
    while True:
        state = {**json.loads(await post_get(port, "/_probe")), **json.loads(await post_get(port, "/_probe/downlinks"))}
        if check(state) or time.monotonic() - started > timeout:
            return time.monotonic() - started, state
        await asyncio.sleep(0.2)


async def post_get(port: int, path: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(), 10)
        return data.split(b"\r\n\r\n", 1)[1].decode()
    finally:
        writer.close()
