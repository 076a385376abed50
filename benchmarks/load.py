"""Load generation from a separate process: wrk when installed, else a Python closed loop.

`python -m benchmarks.load KIND 'JSON-ARGS'` runs one client job (see `JOBS`) and prints its
result as one JSON line; the orchestrator never generates load in its own process.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from .client import HOST

WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
    .. '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def wrk_script(requests: list[tuple[str, str, bytes]]) -> str:
    """A Lua script cycling through (method, path, body) requests, printing a JSON summary."""
    entries = ",\n".join("  {%s, %s, %s}" % (_lua_string(m), _lua_string(p), _lua_string(b.decode())) for m, p, b in requests)
    return (
        f"""
local reqs = {{
{entries}
}}
local i = 0
local headers = {{["Content-Type"] = "application/json"}}
request = function()
  i = i % #reqs + 1
  local r = reqs[i]
  if r[1] == "GET" then return wrk.format("GET", r[2]) end
  return wrk.format(r[1], r[2], headers, r[3])
end
"""
        + WRK_DONE
    )


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def http_load(port: int, requests: list[tuple[str, str, bytes]], connections: int, seconds: float) -> dict[str, Any]:
    """Closed-loop load for `seconds`: requests/s, error count and latency (wrk or Python)."""
    if have_wrk():
        return _run_wrk(port, requests, connections, seconds)
    raw = [_raw_request(port, m, p, b) for m, p, b in requests]
    result = run_job(
        "closed_loop",
        {"port": port, "raw": [r.decode("latin-1") for r in raw], "connections": connections, "seconds": seconds},
        timeout=seconds + 60,
    )
    result["rps"] = result["requests"] / result["seconds"]
    result["tool"] = "python"
    return result


def _raw_request(port: int, method: str, path: str, body: bytes) -> bytes:
    from .client import build_request

    headers = {"Content-Type": "application/json"} if method == "POST" else {}
    return build_request(method, path, port, body, headers)


def _run_wrk(port: int, requests: list[tuple[str, str, bytes]], connections: int, seconds: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(wrk_script(requests))
    try:
        cmd = [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            script.name,
            f"http://{HOST}:{port}",
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    finally:
        os.unlink(script.name)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    data = json.loads(line[len("WRKJSON ") :])
    secs = data["duration_us"] / 1e6
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {
        "requests": data["requests"],
        "seconds": secs,
        "rps": data["requests"] / secs,
        "errors": errors,
        "p50_ms": data["p50_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "tool": "wrk",
    }


def run_job(kind: str, args: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
    """Run one client job of this module in a fresh process and return its JSON result."""
    return run_job_module(__name__, [kind, json.dumps(args)], timeout)


def run_job_module(module: str, argv: list[str], timeout: float = 300) -> dict[str, Any]:
    """`python -m module *argv` with the repo importable; its last JSON line is the result."""
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = subprocess.run(
        [sys.executable, "-m", module, *argv], cwd=repo, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{module} {argv[:1]} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def _jobs() -> dict[str, Callable[..., Any]]:
    from . import frames_client, soak_client
    from .client import closed_loop
    from .workloads import w3_concurrency, w4_stream, w5_idle, w8_multiplex, w9_fanout, w9_frames, w10_resume

    async def closed(port: int, raw: list[str], connections: int, seconds: float) -> dict[str, Any]:
        return await closed_loop(port, [r.encode("latin-1") for r in raw], connections, seconds)

    return {
        "closed_loop": closed,
        "w3": w3_concurrency.client,
        "w4": w4_stream.client,
        "w5": w5_idle.client,
        "w8": w8_multiplex.client,
        "w9": w9_fanout.client,
        "w9f": w9_frames.client,
        "w10": w10_resume.client,
        "soak": soak_client.client,
        "w12": frames_client.client,
    }


UVLOOP_JOBS = {"w9", "w9f", "w10", "soak", "w12"}  # thousands of sockets in one client: uvloop keeps it off the critical path


def _run(kind: str, job: Any) -> Any:
    if kind in UVLOOP_JOBS and importlib.util.find_spec("uvloop") is not None:
        import uvloop

        return uvloop.run(job)
    return asyncio.run(job)


def main() -> None:
    from .workloads.w5_idle import raise_fd_limit

    raise_fd_limit(65536)
    kind, args = sys.argv[1], json.loads(sys.argv[2])
    result = _run(kind, _jobs()[kind](**args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
