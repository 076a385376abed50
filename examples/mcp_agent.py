"""Streams for agents: an event callback that an AI agent calls as an MCP tool and watches.

`Flash(enable_mcp=True)` serves Dash's MCP server at `/_mcp`; Flash adds the app's streams to it.
`scan_sensors` below is one tool for an agent: its docstring is the tool's description, its
parameters (typed) are the tool's arguments, each frame it yields reaches the agent as an MCP
progress notification, and the agent's cancel stops the generator (its `finally` runs). The page
runs the same stream for a person, with a Stop button. `summarise` is an ordinary callback: a
plain tool.

Run the app, then the agent side in another terminal:

    python examples/mcp_agent.py                          # http://127.0.0.1:8050
    python examples/mcp_agent_client.py                   # watches a scan, frame by frame
    python examples/mcp_agent_client.py --stop-after 3    # cancels it after three frames

Needs the `mcp` SDK for the agent side (`pip install mcp`).
"""

from __future__ import annotations

import asyncio
import math
from typing import Optional

from flash import Flash, Input, Output, State, dcc, html, stream_props

try:
    from examples.theme import card, page
except ImportError:  # run as a script: python examples/mcp_agent.py
    from theme import card, page

app = Flash(__name__, title="Streams for agents", enable_mcp=True)
scans_stopped = {"count": 0}  # how many scans ended early (the generator's `finally` saw it)

app.layout = page(
    "Streams for agents",
    "An event callback exposed as an MCP tool: an agent watches its progress and can cancel it.",
    [
        card(
            [
                html.Label(["Sensors to scan ", dcc.Input(id="sensors", type="number", value=8, min=1, max=200)]),
                html.Label([" Delay per sensor (s) ", dcc.Input(id="delay", type="number", value=0.4, step=0.1)]),
                html.Div([html.Button("Scan", id="scan"), html.Button("Stop", id="stop", hidden=True)]),
                html.Progress(id="progress", value="0", max="8", style={"width": "100%"}),
                html.Div(id="status", children="Idle."),
                html.Ul(id="readings"),
            ]
        ),
        card(
            [
                html.Div(id="summary"),
                dcc.Markdown(
                    "Agents: `python examples/mcp_agent_client.py` calls the `scan_sensors` tool at "
                    "`/_mcp` and prints each frame as it arrives."
                ),
            ]
        ),
    ],
)


def reading(i: int) -> float:
    """A made-up sensor value."""
    return round(20 + 5 * math.sin(i / 2), 2)


@app.event_callback(
    Input("scan", "n_clicks"),
    State("sensors", "value"),
    State("delay", "value"),
    cancel=[(Input("stop", "n_clicks"), None)],
    reset_props=[("scan", {"disabled": False}), ("stop", {"hidden": True}), ("status", {"children": "Stopped."})],
)
async def scan_sensors(n_clicks: Optional[int], sensors: int, delay: Optional[float] = 0.4):
    """Scan `sensors` temperature sensors one by one and report each reading as it comes in.

    Each progress frame holds the newest reading ('status') and how many sensors are done
    ('progress.value'); the result holds the last frame and every value shown."""
    total = max(1, min(int(sensors or 1), 200))
    pause = max(0.0, min(float(delay if delay is not None else 0.4), 5.0))
    items = []
    done = False
    yield stream_props(
        [
            ("scan", {"disabled": True}),
            ("stop", {"hidden": False}),
            ("progress", {"max": str(total), "value": "0"}),
            ("status", {"children": "Scanning..."}),
        ]
    )
    try:
        for i in range(1, total + 1):
            await asyncio.sleep(pause)
            value = reading(i)
            items.append(html.Li(f"sensor {i}: {value} °C"))
            yield stream_props(
                [
                    ("progress", {"value": str(i)}),
                    ("readings", {"children": list(items)}),
                    ("status", {"children": f"sensor {i} of {total}: {value} °C"}),
                ]
            )
        done = True
        yield stream_props(
            [
                ("scan", {"disabled": False}),
                ("stop", {"hidden": True}),
                (
                    "status",
                    {"children": f"Done: {total} sensors, mean {sum(reading(i) for i in range(1, total + 1)) / total:.2f} °C"},
                ),
            ]
        )
    finally:
        if not done:
            scans_stopped["count"] += 1  # cancelled by the page or the agent: clean up here


@app.callback(Output("summary", "children"), Input("sensors", "value"))
def summarise(sensors: int) -> str:
    """How long a scan of `sensors` sensors takes at the default delay (an ordinary tool)."""
    return f"A scan of {int(sensors or 0)} sensors takes about {0.4 * int(sensors or 0):.1f} s."


server = app.server  # the ASGI app: `hypercorn examples.mcp_agent:server`

if __name__ == "__main__":
    app.run(debug=True)
