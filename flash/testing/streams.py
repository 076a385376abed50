"""A stream test harness: run an app's streams in process, without a browser, and read their frames.

`StreamClient` plays the browser's side of the stream protocol (docs/streaming-protocol.md)
against the app's own ASGI application, served in this event loop with its lifespan (so
`before_serving` hooks, the stream bus and the graceful shutdown run as under a server): it opens
the downlink, posts starts and closes, and files each run's frames in order. It can cut the
downlink and resume it, cancel runs, and, with several workers on one Redis, stop (or crash) the
worker running a run. No mocks: every request goes through Flash's real routes.

    async with StreamClient(app) as client:
        frames = await client.run(ticks, rows=3)   # by the generator's parameter names
        assert frames.values("out.children") == [1, 2, 3] and frames.events[-1] == "done"

The pytest fixture `flash_stream_client` gives one per test; see docs/testing-streams.md.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
from typing import Any, Callable, Mapping, Sequence, Union

from ..server.jsonfast import dumps
from .stream_frames import Frame, Frames
from .stream_run import Line, Run, StreamTimeout
from .stream_wire import Exchange, StreamRequestError, start_body

__all__ = ["Frame", "Frames", "Run", "StreamClient", "StreamRequestError", "StreamTimeout", "start_body"]

Worker = Union[int, Any]  # an index into `StreamClient.workers`, or the app itself
DEFAULT_TIMEOUT = 10.0  # seconds any wait may take before the test fails (a bound, not a measure)


class StreamClient:
    """The browser's side of Flash's stream protocol, in process (see the module docstring).

    :param app: the Flash app; more apps are more workers of one deployment, which must share a
        `RedisSharedStorage` (the stream bus). The downlink opens on the first.
    :param headers: sent with every request (authentication, say).
    :param timeout: how long any wait may take before the test fails (seconds).
    """

    def __init__(
        self, app: Any = None, *workers: Any, headers: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.workers: list[Any] = []
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.token: str | None = None  # the downlink's token, once opened
        self.resumed = False  # what the last `hello` said
        self.holder = 0  # the worker the downlink was last opened on
        self._served: dict[int, Any] = {}  # worker -> its Quart TestApp (lifespan)
        self._dead: set[int] = set()
        self._lines: list[Line] = []
        self._downlink: Line | None = None
        self._runs: dict[str, Run] = {}
        self._frames: dict[str, Frames] = {}
        self._arrived: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        if app is not None:
            self(app, *workers)

    def __call__(
        self, app: Any, *workers: Any, headers: Mapping[str, str] | None = None, timeout: float | None = None
    ) -> "StreamClient":
        """Bind the app (and further workers); the `flash_stream_client` fixture's form."""
        if self._loop is not None:
            raise RuntimeError("This StreamClient is already serving its apps; bind them before the first request.")
        apps = [app, *workers]
        if len(apps) > 1 and any(getattr(a.stream_runs, "bus", None) is None for a in apps):
            raise ValueError(
                "Several workers need the stream bus: give each app one RedisSharedStorage "
                "(shared_storage=RedisSharedStorage(url=..., key_prefix=<the same>))."
            )
        self.workers = apps
        self.headers.update(headers or {})
        self.timeout = self.timeout if timeout is None else timeout
        return self

    async def __aenter__(self) -> "StreamClient":
        await self.open()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    # --- serving ----------------------------------------------------------------------------
    async def open(self) -> None:
        """Serve every worker (lifespan startup, first request) and open the downlink. Called by
        the first `start`/`run` if not before."""
        if self._loop is not None:
            return
        if not self.workers:
            raise RuntimeError("No app: StreamClient(app), or flash_stream_client(app) in a test.")
        self._loop = asyncio.get_running_loop()
        self._arrived = asyncio.Event()
        try:
            for index, app in enumerate(self.workers):
                await self._serve(index, app)
            await self._open_downlink(0, None, {})
        except BaseException:
            await self.aclose()  # what was served shuts down again: nothing outlives a failed open
            raise

    async def _serve(self, index: int, app: Any) -> None:
        threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
        served = app.server.test_app()
        await served.startup()
        self._served[index] = served
        if frozen == 0 and gc.get_freeze_count():  # Flash's gc tuning is for servers, not a test run
            gc.unfreeze()
        gc.set_threshold(*threshold)
        status, answer = await self._request(index, "GET", "", None).answer(self.timeout)
        if status >= 500:  # the first request takes the app's streams, as a page load does
            raise StreamRequestError(status, answer, "the first request (the page)")

    async def aclose(self) -> None:
        """Cut every line and shut every worker down (their runs end, their `finally` runs)."""
        if self.closed or self._loop is None:
            self.closed = True
            return
        self.closed = True
        for line in list(self._lines):
            await line.exchange.cut()
        self._collect()
        served, self._served = list(self._served.values()), {}
        failures = []
        for worker in served:  # every worker shuts down, even after one failed to
            try:
                await worker.shutdown()
            except Exception as exc:
                failures.append(exc)
        if failures:
            raise failures[0]

    def _request(self, worker: int, method: str, route: str, body: Any) -> Exchange:
        app = self.workers[worker]
        path = app.config.routes_pathname_prefix + route
        data = None if body is None else dumps(body)  # Dash's JSON rules: components, numpy...
        assert self._arrived is not None
        return Exchange(app.server, method, path, data, self.headers, self._arrived)

    def _worker(self, worker: Worker | None, default: int) -> int:
        index = default if worker is None else worker if isinstance(worker, int) else self.workers.index(worker)
        if index in self._dead:
            raise RuntimeError(f"Worker {index} was stopped: send this to another worker.")
        return index

    # --- the downlink -----------------------------------------------------------------------
    async def _open_downlink(self, worker: int, token: str | None, runs: dict[str, int]) -> bool:
        exchange = self._request(worker, "POST", "_flash/downlink", {"downlink": token, "runs": runs})
        line = await self._line(exchange, worker, "opening the downlink")
        await self.wait(lambda: line.hello is not None, None, "the downlink's hello")
        hello = line.hello or {}
        self._downlink, self.holder = line, worker
        self.token, self.resumed = hello["downlink"], bool(hello["resumed"])
        return self.resumed

    async def _line(self, exchange: Exchange, worker: int, what: str) -> Line:
        await exchange.begin(self.timeout)
        if not exchange.is_event_stream:
            status, answer = await exchange.answer(self.timeout)
            raise StreamRequestError(status, answer, what)
        line = Line(exchange, worker)
        self._lines.append(line)
        return line

    async def drop(self) -> None:
        """The network drops: every line is cut (the server sees the connection go). What the
        server had written by then counts as received; the runs go on for the resume window."""
        for line in list(self._lines):
            await line.exchange.cut()
        self._collect()
        self._downlink = None

    async def resume(self, worker: Worker | None = None) -> bool:
        """Reconnect the downlink (on `worker`, default the one that held it) listing every
        unfinished run with the last sequence id received, as the page does; returns `resumed`."""
        if self._downlink is not None:
            await self.drop()
        index = self._worker(worker, self.holder)
        runs = {run.handle: (run.frames.last.seq if run.frames.last else 0) for run in self._runs.values() if not run.ended}
        return await self._open_downlink(index, self.token, runs)

    # --- runs -------------------------------------------------------------------------------
    def spec(self, stream: Any, worker: int = 0) -> Any:
        """The stream's spec: `stream` is the decorated function, its `stream_id` or its name."""
        streams = self.workers[worker].streams
        if isinstance(stream, str):
            if stream in streams:
                return streams[stream]
            named = [spec for spec in streams.values() if spec.func.__name__ == stream]
        else:
            sid = getattr(stream, "stream_id", None)
            if sid in streams:
                return streams[sid]
            func = inspect.unwrap(stream)
            named = [spec for spec in streams.values() if inspect.unwrap(spec.func) is func]
        if len(named) == 1:
            return named[0]
        known = ", ".join(sorted(spec.func.__name__ for spec in streams.values())) or "none"
        raise LookupError(f"No single stream {getattr(stream, '__name__', stream)!r} in this app (its streams: {known}).")

    async def start(
        self,
        stream: Any,
        values: Mapping[Any, Any] | None = None,
        /,
        *,
        inputs: Sequence[Any] | None = None,
        state: Sequence[Any] | None = None,
        triggered: Any = None,
        worker: Worker | None = None,
        **params: Any,
    ) -> Run:
        """Start a run, as the page does when the stream's Input fires; returns its `Run`.

        Values: `**params` by the generator's parameter names, `values` by dependency
        (`{"rows.children": 3}` or `{("rows", "children"): 3}`), or `inputs=`/`state=` lists in
        declaration order (a value, or Dash's `{"id", "property", "value"}` entry; a list of
        entries for an `ALL` wildcard). Anything not given is None. `triggered` names what
        `ctx.triggered_id` reads (default the first Input)."""
        await self.open()
        index = self._worker(worker, self.holder)
        spec = self.spec(stream, index)
        body = start_body(spec, values, inputs=inputs, state=state, triggered=triggered, params=params)
        body["downlink"] = self.token
        exchange = self._request(index, "POST", f"_flash/stream/{spec.stream_id}", body)
        await exchange.begin(self.timeout)
        if exchange.is_event_stream:  # a private line (its worker does not hold the downlink)
            line = await self._line(exchange, index, "starting a run")
            await self.wait(lambda: bool(line.started), None, "the private line's start")
            handle = line.started[0]
        else:
            status, answer = await exchange.answer(self.timeout)
            if status != 200 or not isinstance(answer, dict) or "run" not in answer:
                raise StreamRequestError(status, answer, f"starting {spec.func.__name__}")
            handle = answer["run"]
        run = Run(self, handle, spec.stream_id, index, spec)
        self._runs[run.id] = run
        return run

    async def run(
        self,
        stream: Any,
        values: Mapping[Any, Any] | None = None,
        /,
        *,
        inputs: Sequence[Any] | None = None,
        state: Sequence[Any] | None = None,
        triggered: Any = None,
        worker: Worker | None = None,
        timeout: float | None = None,
        **params: Any,
    ) -> Frames:
        """Start a run (see `start`) and wait for its final frame; returns every frame in order."""
        started = await self.start(stream, values, inputs=inputs, state=state, triggered=triggered, worker=worker, **params)
        return await started.finished(timeout)

    async def cancel(self, *runs: Run, worker: Worker | None = None) -> Any:
        """Close runs (the page's `_flash/close`); returns the server's JSON answer."""
        index = self._worker(worker, self.holder)
        body = {"downlink": self.token, "runs": [run.handle for run in runs]}
        status, answer = await self._request(index, "POST", "_flash/close", body).answer(self.timeout)
        if status != 200:
            raise StreamRequestError(status, answer, "closing runs")
        return answer

    async def stop_worker(self, target: Run | Worker, *, graceful: bool = False) -> None:
        """Stop a worker: `target` is a run (the worker running it), an index or an app.

        By default it dies as a killed process would: its runs stop without another message,
        its bus tasks stop and its lease goes, so the worker holding the downlink ends those
        runs (`error`, or `gone` with `restart_on_worker_loss=True`). `graceful=True` shuts it
        down as SIGTERM does (its runs end with `gone`: the page starts them over elsewhere).
        If it held the downlink, the downlink is cut: `resume(worker=...)` on another one."""
        index = self._worker(target.worker if isinstance(target, Run) else target, 0)
        app = self.workers[index]
        for line in [line for line in self._lines if line.worker == index]:
            await line.exchange.cut()
        self._collect()
        if self._downlink is not None and self._downlink.worker == index:
            self._downlink = None
        self._dead.add(index)
        if graceful:
            await self._served.pop(index).shutdown()
            return
        for live in app.stream_runs.runs():
            live.bus = None  # nothing more reaches Redis or the page from this worker
            live.close()
        if app.stream_runs.bus is not None:
            await app.stream_runs.bus.stop()  # no more ticks; the lease goes (as it would lapse)

    # --- frames -----------------------------------------------------------------------------
    def frames(self, run: Run | None = None) -> Frames:
        """Frames received so far: of one run, or of every run in arrival order per run."""
        self._collect()
        if run is not None:
            return Frames(self._frames.get(run.id, ()))
        return Frames(frame for frames in self._frames.values() for frame in frames)

    def _collect(self) -> None:
        for line in list(self._lines):
            for event in line.events():
                self._file(line, event)
            if line.exchange.finished and not line.exchange.pending:
                self._lines.remove(line)

    def _file(self, line: Line, event: dict[str, str]) -> None:
        kind, data = event.get("event", "message"), json.loads(event.get("data", "null"))
        if kind == "hello":
            line.hello = data
        elif kind == "started":
            line.started.append(data["run"])
        elif kind == "shutdown":
            line.shutdown = True
        else:
            self._frames.setdefault(data["run"], Frames()).append(Frame(kind, data["run"], data["seq"], data["data"]))

    async def wait(self, check: Callable[[], bool], timeout: float | None, what: str) -> None:
        """Let the app run until `check()` holds; a `StreamTimeout` after `timeout` seconds."""
        assert self._arrived is not None, "open() first"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.timeout if timeout is None else timeout)
        while True:
            self._arrived.clear()
            self._collect()
            if check():
                return
            remaining = deadline - loop.time()
            if remaining <= 0 or not self._lines:
                why = "no downlink is open (resume() first)" if not self._lines else "timed out"
                raise StreamTimeout(f"waited for {what}: {why}; frames so far: {self._summary()}")
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    def _summary(self) -> str:
        runs = [
            f"{run_id}: {len(frames)} ({', '.join(f'{f.event} {f.seq}' for f in frames[-5:])})"
            for run_id, frames in self._frames.items()
        ]
        return "; ".join(runs) or "none"

    def close_leftover(self) -> None:
        """The fixture's teardown: close a client the test left open, if its loop still can."""
        loop = self._loop
        if self.closed or loop is None or loop.is_closed() or loop.is_running():
            self.closed = True
            return
        loop.run_until_complete(self.aclose())
