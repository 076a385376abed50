"""The stream harness's wire: one HTTP request answered in process over plain ASGI, and the body
of a run's start built from a stream's dependencies.

Why plain ASGI and not Quart's test client: a downlink is a response that never ends, which the
harness must read while it is written and cut like a dropped connection; ASGI's `receive`
returning `http.disconnect` is exactly what a server does then, with no private test-client names.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any, Mapping, Sequence

from .stream_frames import prop_id

_UNSET = object()
ADDRESS = ("127.0.0.1", 50000)  # the client address the worker sees (its per-address limits)


class StreamRequestError(AssertionError):
    """A stream request the app refused: `status` and its JSON `answer`."""

    def __init__(self, status: int, answer: Any, what: str) -> None:
        super().__init__(f"{what}: {status} {answer!r}")
        self.status, self.answer = status, answer


class Exchange:
    """One request to an ASGI app, its response readable while it is written."""

    def __init__(
        self, asgi: Any, method: str, path: str, body: bytes | None, headers: Mapping[str, str], arrived: asyncio.Event
    ) -> None:
        raw = [(b"host", b"localhost")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        if body is not None:
            raw += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": raw,
            "client": ADDRESS,
            "server": ("localhost", 80),
            "extensions": {},
        }
        self.status = 0
        self.headers: dict[str, str] = {}
        self.finished = False  # the app returned (or the response's last part came)
        self._body = body or b""
        self._sent_body = False
        self._chunks: list[bytes] = []
        self._gone = asyncio.Event()  # the client went away
        self._begun = asyncio.Event()
        self._arrived = arrived
        self.task = asyncio.get_running_loop().create_task(self._serve(asgi))

    async def _serve(self, asgi: Any) -> None:
        try:
            await asgi(self.scope, self._receive, self._send)
        finally:
            self.finished = True
            self._begun.set()
            self._arrived.set()

    async def _receive(self) -> dict[str, Any]:
        if not self._sent_body:
            self._sent_body = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if self._gone.is_set():
            raise OSError("the client went away")  # as a server's send to a closed socket
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
            self._begun.set()
        elif message["type"] == "http.response.body":
            self._chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                self.finished = True
        self._arrived.set()

    @property
    def is_event_stream(self) -> bool:
        return self.headers.get("content-type", "").startswith("text/event-stream")

    @property
    def pending(self) -> bool:
        return bool(self._chunks)

    def take(self) -> bytes:
        chunks, self._chunks = self._chunks, []
        return b"".join(chunks)

    async def begin(self, timeout: float) -> None:
        """Wait for the response's status and headers."""
        await asyncio.wait_for(self._begun.wait(), timeout)
        if not self.status and self.task.done():
            self.task.result()  # the app raised before answering: show why

    async def answer(self, timeout: float) -> tuple[int, Any]:
        """Wait for the whole (short) response: its status and JSON body (text if not JSON)."""
        await asyncio.wait_for(asyncio.shield(self.task), timeout)
        raw = self.take()
        try:
            return self.status, json.loads(raw)
        except ValueError:
            return self.status, raw.decode("utf-8", "replace")

    async def cut(self, timeout: float = 5) -> None:
        """The connection drops: the app's `receive` says so and its next write fails."""
        self._gone.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout)
        except Exception:  # a response may end by any error
            pass
        self.finished = True


def _parameter_names(func: Any, count: int) -> list[str]:
    names = []
    for parameter in inspect.signature(func).parameters.values():
        if parameter.kind not in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            break
        names.append(parameter.name)
    return names[:count]


def _entry(dep: Any, value: Any) -> Any:
    """Dash's `{"id", "property", "value"}` for one dependency (a wildcard's: as given, or [])."""
    if dep.has_wildcard():
        return [] if value is _UNSET or value is None else value
    if isinstance(value, dict) and "id" in value and "property" in value:
        return value
    return {"id": dep.component_id, "property": dep.component_property, "value": None if value is _UNSET else value}


def _first_prop_id(entry: Any) -> list[str]:
    entries = entry if isinstance(entry, list) else [entry]
    return [prop_id(item["id"], item["property"]) for item in entries[:1]]


def start_body(
    spec: Any,
    values: Mapping[Any, Any] | None = None,
    *,
    inputs: Sequence[Any] | None = None,
    state: Sequence[Any] | None = None,
    triggered: Any = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The body the page posts to start `spec`'s stream (without its `downlink`); see
    `StreamClient.start` for the forms values take."""
    deps = [*spec.inputs, *spec.states]
    given: list[Any] = [_UNSET] * len(deps)
    keys = [prop_id(dep.component_id, dep.component_property) for dep in deps]
    names = _parameter_names(spec.func, len(deps))
    name = spec.func.__name__

    def put(index: int, value: Any, how: str) -> None:
        if given[index] is not _UNSET:
            raise TypeError(f"{name}: {keys[index]} is given twice (again as {how}).")
        given[index] = value

    for offset, listed, kind, count in (
        (0, inputs, "inputs", len(spec.inputs)),
        (len(spec.inputs), state, "state", len(spec.states)),
    ):
        if listed is None:
            continue
        if len(listed) != count:
            raise TypeError(
                f"{name}: {kind}= takes {count} value(s), one per declared {kind} "
                f"({', '.join(keys[offset : offset + count]) or 'none'}), got {len(listed)}."
            )
        for position, value in enumerate(listed):
            put(offset + position, value, f"{kind}[{position}]")
    for key, value in [*(values or {}).items(), *(params or {}).items()]:
        wanted = prop_id(*key) if isinstance(key, tuple) else key
        if wanted in keys:
            put(keys.index(wanted), value, repr(key))
        elif wanted in names:
            put(names.index(wanted), value, repr(key))
        else:
            raise TypeError(
                f"{name} has no dependency or parameter {key!r}: its dependencies are "
                f"{', '.join(keys)}; its parameters {', '.join(names) or 'none'}."
            )
    entries = [_entry(dep, value) for dep, value in zip(deps, given)]
    if triggered is None:
        changed = _first_prop_id(entries[0])
    else:
        listed_ids = triggered if isinstance(triggered, list) else [triggered]
        changed = [prop_id(*item) if isinstance(item, tuple) else str(item) for item in listed_ids]
    return {"inputs": entries[: len(spec.inputs)], "state": entries[len(spec.inputs) :], "changedPropIds": changed}
