"""Streaming jobs: an event callback's generator run on a Celery worker, streaming to the page.

Why: Dash's background callbacks can only be polled for progress. Here the job is one more
stream-bus worker (`stream_bus.py`): it writes the run's numbered messages to the run's Redis stream,
exactly as a web worker would, so the page's downlink (on any web worker) forwards them as they
come, a web worker restarting does not touch the job, and a cancel from any web worker reaches
the job through the bus's control topic.

    celery_app = Celery(__name__, broker=REDIS_URL)
    app = Flash(__name__, background_callback_manager=CeleryManager(celery_app),
                shared_storage=REDIS_URL)

    @event_callback(Input("go", "n_clicks"), background=True)
    async def crunch(n):                      # runs in `celery -A app:celery_app worker`
        for chunk in heavy_work():
            yield stream_props("out", {"children": chunk})

The web worker announces the run under a job lease (`QUEUED_LEASE_MS`): if no Celery worker
picks the job up in time, or the worker running it dies, the page is told like for any lost
worker. With another manager (`DiskcacheManager`) or without Redis shared storage the generator
runs in the web worker, as any event callback.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ...compat.dash import background_manager, callback_args
from ...server.internal_request import internal_request_context
from ..run.runs import StreamRun

if TYPE_CHECKING:
    from ..bus.stream_bus import StreamBus
    from ..declare.spec import EventCallbackSpec
    from ..host import StreamHost

logger = logging.getLogger("flash.streaming")
TASK_NAME = "flash.stream_job"
QUEUED_LEASE_MS = 30_000  # how long a queued job may wait for a Celery worker
_APPS: dict[int, "StreamHost"] = {}  # id(celery app) -> the Flash app whose streams its task runs


def celery_of(app: "StreamHost") -> Any:
    """The Celery app behind the Flash app's `CeleryManager`, or None."""
    manager = background_manager(app)
    if manager is None or type(manager).__name__ != "CeleryManager":
        return None
    return getattr(manager, "handle", None)


def register(app: "StreamHost") -> None:
    """Give the app's Celery app the task that runs streaming jobs (web and worker side alike:
    both import the app's module)."""
    celery = celery_of(app)
    if celery is None:
        return
    _APPS[id(celery)] = app
    if TASK_NAME in celery.tasks:
        return

    @celery.task(name=TASK_NAME, ignore_result=True)  # type: ignore[untyped-decorator]  # Celery is untyped
    def stream_job(payload: dict[str, Any]) -> None:
        owner = _APPS[id(celery)]
        asyncio.run(run_job(owner, payload))


def runs_as_job(app: "StreamHost", spec: "EventCallbackSpec") -> bool:
    return bool(spec.background) and app.stream_runs.bus is not None and celery_of(app) is not None


async def enqueue(app: "StreamHost", bus: "StreamBus", run: StreamRun, body: dict[str, Any]) -> None:
    """Announce `run` under a job lease and send it to the Celery queue."""
    worker = f"job-{run.run_id}"
    await bus.client().set(bus.lease_key(worker), 1, px=QUEUED_LEASE_MS)
    await bus.announce_start(run, False, worker=worker)
    payload = {
        "stream_id": run.stream_id,
        "run_id": run.run_id,
        "handle": run.handle,
        "downlink": run.downlink.downlink_id,
        "worker": worker,
        "body": {key: body.get(key, []) for key in ("inputs", "state", "changedPropIds")},
    }
    celery = celery_of(app)
    await asyncio.to_thread(celery.send_task, TASK_NAME, args=[payload])


async def run_job(app: "StreamHost", payload: dict[str, Any]) -> None:
    """On the Celery worker: run one stream as its own bus worker, until it ends or is closed."""
    from ..bus.stream_bus import StreamBus
    from ..run.pump import pump
    from .downlink import DownlinkRegistry

    app.take_streams()  # the worker never served a request
    spec = app.streams.get(payload["stream_id"])
    storage = app.stream_runs.bus.storage if app.stream_runs.bus is not None else None
    if spec is None or storage is None:
        logger.error("Streaming job for unknown stream %r (or no Redis shared storage)", payload["stream_id"])
        return
    registry = DownlinkRegistry(app.stream_resume_window, app.limits.stream_write_timeout)
    bus = registry.bus = StreamBus(storage, registry, worker_id=payload["worker"])
    try:
        await bus.ensure_started()
        downlink = registry.open(payload["downlink"], "")
        run = StreamRun(
            payload["run_id"],
            payload["handle"],
            payload["stream_id"],
            downlink,
            app.stream_replay_size,
            app.limits.stream_replay_bytes,
            bus=bus,
        )
        registry.add_run(run)  # from here a close on the control topic reaches it (`close_local`)
        if await bus.was_closed(payload["run_id"]):
            run.close()  # closed while queued: its pump's first step writes `done` (closed)
        async with internal_request_context(app.server, "/_flash/job", method="POST"):
            cb_ctx = app.callback_context({**payload["body"], "outputs": [], "output": ""})
            args = callback_args(app, cb_ctx)
            # The group owns the pump: this job ends when it does, and a cancel of the job (the
            # Celery worker stopping) reaches it. A run closed by the page ends cancelled, which
            # the group takes as a normal end.
            async with asyncio.TaskGroup() as group:
                run.task = group.create_task(pump(app, spec, run, cb_ctx, args))
    finally:
        await bus.stop()
        await storage.aclose()
