"""One run of a `StreamClient` (streams.py), and an SSE response the client is reading."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

from .sse import parse_events
from .stream_frames import Frames
from .stream_wire import Exchange

if TYPE_CHECKING:
    from .streams import StreamClient


class StreamTimeout(AssertionError):
    """A wait for frames ran out of time: the message lists what had arrived."""


class Run:
    """One run started by a `StreamClient`: its handle, and its frames as they arrive."""

    def __init__(self, client: "StreamClient", handle: str, stream_id: str, worker: int, spec: Any) -> None:
        self.client = client
        self.handle = handle
        self.id = handle.split(".", 1)[0]
        self.stream_id = stream_id
        self.worker = worker  # the index of the worker it was started on
        self.spec = spec

    def __repr__(self) -> str:
        return f"<Run {self.spec.func.__name__} {self.id} on worker {self.worker}: {len(self.frames)} frames>"

    @property
    def frames(self) -> Frames:
        """The frames received so far (a copy)."""
        return self.client.frames(self)

    @property
    def ended(self) -> bool:
        return self.frames.ended

    @property
    def reset_props(self) -> list[tuple[Any, Mapping[str, Any]]]:
        """What the page applies when this run is cancelled or fails (the stream's `reset_props`)."""
        return list(self.spec.reset_props)

    async def until(self, count: int | Callable[[Frames], Any], timeout: float | None = None) -> Frames:
        """Wait until `count` frames arrived (or `count(frames)` is true); returns the frames."""
        check = (lambda frames: len(frames) >= count) if isinstance(count, int) else count
        what = f"{count} frames" if isinstance(count, int) else "the condition"
        await self.client.wait(lambda: bool(check(self.frames)), timeout, f"{what} of {self!r}")
        return self.frames

    async def finished(self, timeout: float | None = None) -> Frames:
        """Wait for the final frame (`done`, `error` or `gone`); returns every frame."""
        return await self.until(lambda frames: frames.ended, timeout)

    async def cancel(self, timeout: float | None = None) -> Frames:
        """What the page does when a `cancel` condition stops holding: close the run, then wait
        for its final `done {"closed": true}`. (The page then applies `reset_props`.)"""
        await self.client.cancel(self)
        return await self.finished(timeout)


class Line:
    """An SSE response being read (the downlink, or a private line): events in order."""

    def __init__(self, exchange: Exchange, worker: int) -> None:
        self.exchange, self.worker = exchange, worker
        self.hello: dict[str, Any] | None = None
        self.started: list[str] = []
        self.shutdown = False
        self._tail = b""

    def events(self) -> list[dict[str, str]]:
        self._tail += self.exchange.take()
        complete, sep, self._tail = self._tail.rpartition(b"\n\n")
        return parse_events(complete + sep) if sep else []
