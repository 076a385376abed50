"""W10: resume after a dropped downlink, on another worker than before, through Redis.

Two workers of one server and a redis-server (`cluster.py`). Each try: a new downlink on worker
B; one run of the endless `paced` stream (a message every 20 ms) started on worker A; once 5 of
its messages have arrived, the client drops the downlink's connection (closes the socket), waits
`MISSED_S` (the run goes on: ~10 messages land in Redis only), then reconnects on worker A with
the resume body (`{"downlink": <token>, "runs": {<handle>: <last seq seen>}}`). Measured: from
just before the new TCP connect to the arrival of the first resumed message, which must be the
very next one (seq = last seen + 1: a replay from Redis, nothing lost). Then the run is closed.
Reference: the same with downlink, run and reconnect all on worker A ("same worker"; the run's
messages still travel through Redis, as every run does once shared storage is Redis). Cross and
same tries alternate. p99 over 50 tries is about the second-slowest try.

Then the cancel: the run is closed by a close request sent to the worker that does NOT run it
(cross tries; the same worker in same tries), and measured from just before that request to the
run's closing `done` message on the resumed downlink: the generator has stopped by then (the
message is written as it is cancelled), so this is the issue's "a cancel takes effect within
100 ms wherever it lands", end to end.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

from ..client import Connection, post_json
from ..cluster import Cluster
from ..cluster_app import PACED_INPUT
from ..load import run_job
from ..streams import CLOSE_PATH, ERROR, Downlink, start_run
from . import Config, Metric

NAME = "W10"
TITLE = "resume after a dropped downlink: on another worker (and on the same one), 2 workers + Redis"
TARGET = "none (reported)"
CLUSTER = True
METRICS = [
    Metric("cross_p50_ms", "ms", False, "resume on the other worker, p50"),
    Metric("cross_p99_ms", "ms", False, "resume on the other worker, p99"),
    Metric("same_p50_ms", "ms", False, "resume on the same worker, p50"),
    Metric("same_p99_ms", "ms", False, "resume on the same worker, p99"),
    Metric("cancel_cross_p50_ms", "ms", False, "cancel sent to the other worker: until the run's end reaches the page, p50"),
    Metric("cancel_cross_p99_ms", "ms", False, "the same, p99"),
    Metric("cancel_same_p50_ms", "ms", False, "cancel sent to the run's own worker, p50"),
]
SEEN = 5  # messages read before the drop
MISSED_S = 0.2
SEQ = re.compile(rb'event: props\ndata: \{"run":"[^"]+","seq":(\d+)')


def applies(contender: Any) -> bool:
    return bool(contender.app == "flash")


async def _seqs(downlink: Downlink, at_least: int, timeout: float = 10.0) -> list[int]:
    """Sequence ids of props messages, reading until `at_least` have arrived."""
    seqs: list[int] = []
    blocks = downlink.blocks()
    while len(seqs) < at_least:
        block = await asyncio.wait_for(blocks.__anext__(), timeout)
        if ERROR in block or b"event: gone\n" in block:
            raise RuntimeError(f"the run failed: {block[:300]!r}")
        seqs += [int(m[1]) for m in SEQ.finditer(block)]
    return seqs


async def _until_closed(downlink: Downlink, timeout: float = 10.0) -> None:
    """Read until the run's closing `done` message."""
    blocks = downlink.blocks()
    while True:
        block = await asyncio.wait_for(blocks.__anext__(), timeout)
        if b"event: done\n" in block:
            if b'"closed":true' not in block:
                raise RuntimeError(f"the run ended without being closed: {block[:300]!r}")
            return


async def one_try(holder: int, runner: int, resume_on: int, stream_id: str, close_on: int | None = None) -> dict[str, float]:
    first = await Downlink.open(holder)
    starter = await Connection.open(runner)
    second = None
    try:
        handle = await start_run(starter, runner, stream_id, PACED_INPUT, 1, first.token)
        last = (await _seqs(first, SEEN))[-1]
        first.close()  # the network drops
        await asyncio.sleep(MISSED_S)
        t0 = time.perf_counter()
        second = await Downlink.open(resume_on, token=first.token, runs={handle: last})
        hello = time.perf_counter()
        resumed = (await _seqs(second, 1))[0]
        t1 = time.perf_counter()
        if not second.resumed or resumed != last + 1:
            raise RuntimeError(f"resume after seq {last}: resumed={second.resumed}, first seq {resumed}")
        closer = await Connection.open(close_on or runner)
        try:
            t2 = time.perf_counter()
            status, body = await closer.request(
                post_json(CLOSE_PATH, close_on or runner, {"downlink": first.token, "runs": [handle]})
            )
            if status != 200:
                raise RuntimeError(f"close answered {status}: {body[:200]!r}")
            await _until_closed(second)
            t3 = time.perf_counter()
        finally:
            closer.close()
        return {"ms": (t1 - t0) * 1000, "hello_ms": (hello - t0) * 1000, "cancel_ms": (t3 - t2) * 1000}
    finally:
        first.close()
        starter.close()
        if second is not None:
            second.close()


async def client(ports: list[int], stream_id: str, tries: int) -> dict[str, Any]:
    a, b = ports
    await one_try(b, a, a, stream_id)  # warm-up
    await one_try(a, a, a, stream_id)
    cross, same = [], []
    for _ in range(tries):
        cross.append(await one_try(b, a, a, stream_id, close_on=b))  # downlink on B, run on A, resume
        same.append(await one_try(a, a, a, stream_id, close_on=a))  # on A, close sent to B

    def pct(rows: list[dict[str, float]], key: str, q: float) -> float:
        values = sorted(r[key] for r in rows)
        return values[min(len(values) - 1, int(q * len(values)))]

    out: dict[str, Any] = {"tries": tries}
    for name, rows in (("cross", cross), ("same", same)):
        out[f"{name}_p50_ms"], out[f"{name}_p99_ms"] = pct(rows, "ms", 0.5), pct(rows, "ms", 0.99)
        out[f"{name}_hello_p50_ms"] = pct(rows, "hello_ms", 0.5)
        out[f"{name}_max_ms"] = max(r["ms"] for r in rows)
        out[f"cancel_{name}_p50_ms"], out[f"cancel_{name}_p99_ms"] = pct(rows, "cancel_ms", 0.5), pct(rows, "cancel_ms", 0.99)
    return out


def measure_cluster(contender: Any, cfg: Config, log_dir: Path) -> dict[str, Any]:
    with Cluster(contender.name, contender.server, log_dir) as cluster:
        try:
            return run_job(
                "w10",
                {"ports": cluster.ports, "stream_id": cluster.info["paced"], "tries": cfg.w10_tries},
                timeout=60 + cfg.w10_tries * 10,
            )
        except Exception as err:
            raise RuntimeError(f"{err}\n{cluster.log_tail()}") from err
