"""The agent's side of examples/mcp_agent.py: call a stream tool over MCP and watch it run.

It uses only the official `mcp` SDK (`pip install mcp`), as any agent framework does underneath:
list the tools, call `scan_sensors` with a progress callback (each frame the event callback
yields arrives as one MCP progress notification), then print the result. `--stop-after N`
cancels the call after N frames: the server closes the run and its generator's `finally` runs.

    python examples/mcp_agent.py &
    python examples/mcp_agent_client.py [--url http://127.0.0.1:8050/_mcp] [--sensors 8] [--stop-after 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any, Callable, Optional

from mcp import Client

DEFAULT_URL = "http://127.0.0.1:8050/_mcp"


async def watch(
    url: str, sensors: int = 8, delay: float = 0.2, stop_after: Optional[int] = None, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run one scan as an agent would; returns what it saw (the frames, and the result or None)."""
    frames: list[dict[str, Any]] = []
    enough = asyncio.Event()

    async def on_progress(progress: float, total: Optional[float], message: Optional[str]) -> None:
        update = json.loads(message or "{}")
        frames.append(update)
        status = update.get("status", {}).get("children")
        say(f"frame {int(progress)}: {status or ', '.join(update)}")
        if stop_after is not None and len(frames) >= stop_after:
            enough.set()

    async with Client(url) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        say(f"tools: {', '.join(sorted(tools))}")
        say(f"scan_sensors: {(tools['scan_sensors'].description or '').splitlines()[0]}")
        call = asyncio.ensure_future(
            client.call_tool("scan_sensors", {"n_clicks": 1, "sensors": sensors, "delay": delay}, progress_callback=on_progress)
        )
        stopper = asyncio.ensure_future(enough.wait())
        await asyncio.wait({call, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not call.done():
            call.cancel()  # the SDK sends notifications/cancelled; the server stops the generator
            say(f"cancelled after {len(frames)} frames")
            return {"frames": frames, "result": None}
        result = json.loads((await call).content[0].text)
        say(f"result: {result['response'].get('status', {}).get('children')} ({result['frames']} frames)")
        return {"frames": frames, "result": result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--sensors", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--stop-after", type=int, default=None)
    args = parser.parse_args()
    asyncio.run(watch(args.url, args.sensors, args.delay, args.stop_after))


if __name__ == "__main__":
    main()
