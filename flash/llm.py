"""Stream an LLM's answer into a component: text chunks in, few `Patch` appends out.

A model streams hundreds of small chunks a second; sending each as its own update would mean as
many messages and re-renders (a `dcc.Markdown` re-parses its whole text on each). `text_updates`
batches what arrives within `interval` seconds into one `stream_props` update whose value is a
`Patch` that appends the batch to a string prop, so the wire carries only new text::

    @event_callback(Input("ask", "n_clicks"), State("prompt", "value"),
                    cancel=[(Input("stop", "n_clicks"), 0)])
    async def answer(n_clicks, prompt):
        stream = await client.chat.completions.create(model=..., messages=[...], stream=True)
        async for update in text_updates(stream, "answer"):  # dcc.Markdown(id="answer")
            yield update

Chunks may be plain strings or what the common SDKs stream (see `chunk_text`), from an async or a
sync iterable (a sync one is stepped in the app's thread pool). Closing the stream (Stop, a new
run, the page going away) closes the source too, so the model's HTTP response is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor
from typing import Any, Union

from dash import Patch

from .server.threads import run_in_thread
from .streaming.declare.props import ComponentId, StreamProps, stream_props

__all__ = ["chunk_text", "coalesce_text", "append_text", "text_updates"]

Chunks = Union[AsyncIterable[Any], Iterable[Any]]
TextOf = Callable[[Any], "str | None"]
DEFAULT_INTERVAL = 0.03  # ~33 updates/s at most: smooth to the eye, cheap for the page
_DONE = object()


def _field(obj: Any, name: str) -> Any:
    """`obj.name` for SDK objects, `obj[name]` for the same event parsed from JSON."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def chunk_text(chunk: Any) -> str:
    """The text a streamed chunk adds ("" for chunks that carry none).

    Understands, as objects or as dicts parsed from their JSON:

    * plain strings (Anthropic's ``stream.text_stream``, most wrappers);
    * OpenAI chat completion chunks, ``chunk.choices[0].delta.content`` (a chunk without
      choices, e.g. the final usage chunk, or with ``content=None`` adds nothing), and legacy
      completions, ``chunk.choices[0].text``;
    * Anthropic events, ``event.delta.text`` of ``type == "content_block_delta"``; every other
      typed event (``message_start``, ``ping``, tool-input and thinking deltas, and the SDK's
      ``"text"`` event, which repeats the raw delta event next to it) adds nothing;
    * OpenAI Responses events, ``event.delta`` of ``type == "response.output_text.delta"``;
    * untyped objects with a string ``.text`` (Gemini) or ``.content`` (LangChain message
      chunks), or ``.message.content`` (Ollama).

    Anything else raises `TypeError`; pass ``text=`` to `text_updates` for other shapes.
    """
    if isinstance(chunk, str):
        return chunk
    if chunk is None:
        return ""
    if isinstance(chunk, (bytes, bytearray)):
        raise TypeError(
            "Text chunks must be str, not bytes: decode them first (a multi-byte "
            "character may span two chunks; codecs.getincrementaldecoder handles that)."
        )
    kind = _field(chunk, "type")
    if isinstance(kind, str):
        if kind == "content_block_delta":
            return _text(_field(_field(chunk, "delta"), "text"))
        if kind == "response.output_text.delta":
            return _text(_field(chunk, "delta"))
        return ""  # an event that carries no answer text (or repeats one, as "text" does)
    choices = _field(chunk, "choices")
    if isinstance(choices, (list, tuple)):
        if not choices:
            return ""
        delta = _field(choices[0], "delta")
        return _text(_field(delta, "content") if delta is not None else _field(choices[0], "text"))
    for name in ("text", "content"):
        value = _field(chunk, name)
        if isinstance(value, str):
            return value
    message = _field(chunk, "message")
    if message is not None and isinstance(_field(message, "content"), str):
        return str(_field(message, "content"))
    raise TypeError(
        f"Found no text in a streamed chunk of type {type(chunk).__name__}. Flash reads strings, "
        "OpenAI (choices[0].delta.content), Anthropic (content_block_delta) and similar chunks; "
        "for others pass text=lambda chunk: ... to text_updates/coalesce_text."
    )


def _app_executor() -> Executor | None:
    """The app's thread pool (sync work runs there in Flash), else asyncio's default."""
    try:
        from dash import get_app

        executor = getattr(getattr(get_app(), "backend", None), "executor", None)
    except Exception:  # no app: a script or a test
        return None
    return executor if isinstance(executor, Executor) else None


async def _aiter(chunks: Chunks) -> AsyncIterator[Any]:
    """Iterate async iterables directly and sync ones one `next()` per thread-pool call, so a
    blocking SDK stream never stalls the event loop; either is closed when this is."""
    if isinstance(chunks, (str, bytes)):
        raise TypeError("text_updates/coalesce_text take an iterable of chunks, not one string: wrap it in a list.")
    if isinstance(chunks, AsyncIterable):
        source = aiter(chunks)
        try:
            async for chunk in source:
                yield chunk
        finally:
            close = getattr(source, "aclose", None)
            if close is not None:
                await close()
        return
    if not isinstance(chunks, Iterable):
        raise TypeError(f"Expected an async or sync iterable of text chunks, got {type(chunks).__name__}.")
    executor = _app_executor()
    iterator: Iterator[Any] = iter(chunks)
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            pending = asyncio.ensure_future(run_in_thread(executor, next, iterator, _DONE))
            chunk = await asyncio.shield(pending)
            pending = None
            if chunk is _DONE:
                return
            yield chunk
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            if pending is not None and not pending.done():
                # `next()` is still running in its thread: close once that step returns.
                loop = asyncio.get_running_loop()
                pending.add_done_callback(lambda _: loop.run_in_executor(executor, close))
            else:
                await run_in_thread(executor, close)


async def coalesce_text(
    chunks: Chunks,
    *,
    interval: float = DEFAULT_INTERVAL,
    max_chars: int | None = None,
    text: TextOf | None = None,
) -> AsyncGenerator[str, None]:
    """Yield the text of `chunks` in batches: at most one batch per `interval` seconds.

    The first text goes out at once (time to first token is what users notice); later text waits
    at most `interval` seconds, also while the source pauses. A batch also goes out early once
    `max_chars` characters wait. The source is read in a task of its own, so it keeps streaming
    while the caller is busy sending; it is closed when this generator is. An error from the source
    is raised here after the text that came before it has been yielded.
    """
    if not (isinstance(interval, (int, float)) and interval >= 0 and math.isfinite(interval)):
        raise ValueError("interval must be a finite number of seconds >= 0.")
    if max_chars is not None and (isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1):
        raise ValueError("max_chars must be a positive integer (or None: no limit).")
    extract = text or chunk_text
    buffer: list[str] = []
    size = 0
    finished = False
    failure: BaseException | None = None
    wake = asyncio.Event()

    async def read() -> None:
        nonlocal size, finished, failure
        try:
            async for chunk in _aiter(chunks):
                piece = extract(chunk)
                if piece:
                    buffer.append(piece)
                    size += len(piece)
                    wake.set()
        except Exception as exc:  # re-raised in the consumer
            failure = exc
        finally:
            finished = True
            wake.set()

    reader = asyncio.ensure_future(read())
    last_sent = -math.inf
    try:
        while True:
            if not buffer:
                if finished:
                    break
                wake.clear()
                await wake.wait()
                continue
            wait = last_sent + interval - time.monotonic()
            if wait > 0 and not finished and (max_chars is None or size < max_chars):
                wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(wake.wait(), wait)
                continue
            batch = "".join(buffer)
            buffer.clear()
            size = 0
            last_sent = time.monotonic()
            yield batch
        if failure is not None:
            raise failure
    finally:
        reader.cancel()
        await asyncio.wait([reader])  # the source's cleanup has run; our own cancel still raises


def append_text(text: str) -> Patch:
    """A `Patch` that appends `text` to a string prop (Dash's "Add" operation: ``prop + text``)."""
    patch = Patch()
    patch += text
    return patch


async def text_updates(
    chunks: Chunks,
    component_id: ComponentId,
    prop: str = "children",
    *,
    interval: float = DEFAULT_INTERVAL,
    max_chars: int | None = None,
    replace: bool = True,
    text: TextOf | None = None,
) -> AsyncGenerator[StreamProps, None]:
    """`stream_props` updates that stream the text of `chunks` into `component_id`'s `prop`.

    With `replace` (the default) the first batch replaces what the prop held (a placeholder, or
    the previous answer when regenerating) and the prop ends as exactly the streamed text, "" if
    there was none; later batches are appended with `append_text`. With ``replace=False`` every
    batch is appended to the prop's current value, which must then be a string. `interval`,
    `max_chars` and `text` are those of `coalesce_text`.
    """
    first = replace
    batches = coalesce_text(chunks, interval=interval, max_chars=max_chars, text=text)
    async with contextlib.aclosing(batches):  # closed with us, so the source closes at once
        async for batch in batches:
            yield stream_props(component_id, {prop: batch if first else append_text(batch)})
            first = False
    if first:
        yield stream_props(component_id, {prop: ""})
