"""The example gallery: every example app on its own port, and an index that links to them.

The index (examples/gallery_index.py) shows a card per example with its screenshot from
examples/screenshots/ (`python scripts/screenshots.py` retakes them). Each example runs in its own
process (examples use module-level `@callback`s, as Dash apps do, so each needs its own
interpreter) under Hypercorn; the index is itself a Flash app.
Defaults: index on http://127.0.0.1:8050, examples on the following ports. Override with
FLASH_GALLERY_HOST / FLASH_GALLERY_PORT. The gallery binds each example's socket itself and hands
it to Hypercorn (`--bind fd://N`), so a port that is already taken is replaced by a free one
before any link is written, instead of leaving a dead link.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

EXAMPLES = [
    (
        "grid_stream",
        "AG Grid stream",
        "The seed's flow: rows fill an AG Grid chunk by chunk, notifications report progress, Cancel stops it.",
    ),
    ("sql_stream", "SQL stream", "Async SQLAlchemy + aiosqlite: a query's partitions stream from a SQLite file into the grid."),
    ("token_stream", "Token stream", "An LLM-style answer: Markdown grows token by token, with Stop and Regenerate."),
    ("stock_ticker", "Endless stock ticker", "An endless extendData stream that stops when you leave the page."),
    ("websocket_chart", "WebSocket live chart", "Prices pushed over the WebSocket component; it reconnects after a restart."),
    ("lazy_dashboard", "Lazy dashboard", "Panels fetched by LazyLoad from async layout functions as they scroll into view."),
    ("live_channel", "Live channel", "Two windows, one feed: a shared producer and a chat over a channel."),
    ("async_gather", "Sync vs async", "Three waits in a sync callback (~2.2 s) vs asyncio.gather (~1 s)."),
    ("stream_table", "Chunked table stream", "The smallest grid stream: Start, Stop and reset_props with plain HTML controls."),
    ("pages_app", "Multi-page app", "use_pages with async page layouts and titles."),
    ("mcp_agent", "Streams for agents", "An event callback as an MCP tool: an agent script watches its progress and cancels it."),
    ("basic", "Basic app", "An input echoed by an async callback."),
]
TAGS = {
    "grid_stream": ["event_callback", "dash-ag-grid", "notifications"],
    "sql_stream": ["SQLAlchemy", "aiosqlite", "cancel"],
    "token_stream": ["flash.llm", "Patch", "Markdown"],
    "stock_ticker": ["endless", "extendData", "cancel on page change"],
    "websocket_chart": ["WebSocket", "reconnect"],
    "lazy_dashboard": ["LazyLoad", "async layouts"],
    "live_channel": ["Channel", "two windows"],
    "async_gather": ["async callbacks", "thread pool"],
    "stream_table": ["rowTransaction", "reset_props"],
    "pages_app": ["pages", "async layouts"],
    "mcp_agent": ["MCP", "event_callback", "agents"],
    "basic": ["callback"],
}

ROOT = Path(__file__).resolve().parent.parent


def available() -> list[tuple[str, str, str]]:
    return [e for e in EXAMPLES if (ROOT / "examples" / f"{e[0]}.py").exists()]


def listen_on(host: str, preferred_port: int, index_port: int) -> socket.socket:
    """A listening socket on `preferred_port`, or on a free port if that one is taken (never
    on `index_port`, which the index binds later)."""
    for port in (preferred_port, 0, 0, 0):
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            continue
        if sock.getsockname()[1] == index_port:
            sock.close()
            continue
        sock.listen(128)
        return sock
    raise OSError(f"no free port on {host}")


def start_example(module: str, sock: socket.socket) -> subprocess.Popen:
    fd = sock.fileno()
    command = [sys.executable, "-m", "hypercorn", f"examples.{module}:server", "--bind", f"fd://{fd}"]
    return subprocess.Popen(command, cwd=ROOT, pass_fds=(fd,))


def index_app(host: str, links: list[tuple[str, str, str, int]]):
    """The gallery page: one card per example (its screenshot, title, blurb), linking to it."""
    from examples.gallery_index import build_index

    return build_index(host, links, TAGS, ROOT)


def main() -> None:
    if importlib.util.find_spec("flash") is None:
        sys.exit("Flash is not installed: run `bash scripts/gallery` (it installs and serves).")
    host = os.environ.get("FLASH_GALLERY_HOST", "127.0.0.1")
    port = int(os.environ.get("FLASH_GALLERY_PORT", "8050"))
    sockets = [(m, t, d, listen_on(host, port + 1 + i, port)) for i, (m, t, d) in enumerate(available())]
    links = [(m, t, d, sock.getsockname()[1]) for m, t, d, sock in sockets]
    children = [start_example(m, sock) for m, _, _, sock in sockets]
    for *_, sock in sockets:
        sock.close()  # each child holds its own copy

    def stop(*_: object) -> None:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=10)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    time.sleep(0.5)
    print(f"Flash example gallery on http://{host}:{port}/")
    for module, title, _, example_port in links:
        print(f"  {title:<22} http://{host}:{example_port}/   (examples/{module}.py)")
    try:
        index_app(host, links).run(host=host, port=port, debug=False)
    finally:
        stop()


if __name__ == "__main__":
    main()
