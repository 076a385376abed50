"""Test-only control of the differential apps' generators: step by step, never by the clock.

`gate = install(app)`; a generator calls `await gate()` between yields and parks there until the
test POSTs `/test-gate/release`. `gate.started()` / `gate.ended()` count generators' starts and
`finally` blocks. GET `/test-gate/state` reports the counters, so the test knows when a
generator is parked at its next gate (everything before it has been yielded) or has ended.

Imports nothing but the standard library: the same file is used under Dash 4.5 and Flash. The
gate polls a plain counter instead of awaiting an `asyncio.Event`, so it does not care which
event loop (or thread) runs the generator.
"""

import asyncio
import json
import threading

_LOCK = threading.Lock()


class Gate:
    def __init__(self):
        self.arrivals = 0  # times a generator parked at a gate
        self.releases = 0  # times the test let one through
        self.starts = 0
        self.ends = 0  # `finally` blocks run

    def state(self):
        with _LOCK:
            return {"arrivals": self.arrivals, "releases": self.releases, "starts": self.starts, "ends": self.ends}

    async def __call__(self):
        with _LOCK:
            self.arrivals += 1
            ticket = self.arrivals
        while True:
            with _LOCK:
                if self.releases >= ticket:
                    return
            await asyncio.sleep(0.01)

    def release(self):
        with _LOCK:
            self.releases += 1

    def started(self):
        with _LOCK:
            self.starts += 1

    def ended(self):
        with _LOCK:
            self.ends += 1


def install(app):
    gate = Gate()
    server = app.server

    async def release():
        gate.release()
        return json.dumps(gate.state()), 200, {"Content-Type": "application/json"}

    async def state():
        return json.dumps(gate.state()), 200, {"Content-Type": "application/json"}

    server.add_url_rule("/test-gate/release", "test_gate_release", release, methods=["POST"])
    server.add_url_rule("/test-gate/state", "test_gate_state", state, methods=["GET"])
    return gate
