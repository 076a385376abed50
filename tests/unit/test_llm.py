"""flash.llm: the chunk-shape adapters, coalescing and the Patch updates, as pure asyncio.

No assert depends on how fast the machine is: sources hand over chunks in lock-step with what the
consumer has received, and `interval` is either 0 or an hour (where only the source ending, or
`max_chars`, may release a batch). Timeouts only guard against hangs.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from types import SimpleNamespace as NS

import pytest

from flash import Patch
from flash.llm import append_text, chunk_text, coalesce_text, text_updates
from flash.streaming.declare.props import StreamProps

HOUR = 3600.0


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


async def collect(agen) -> list:
    return [item async for item in agen]


# --- chunk shapes ---------------------------------------------------------------------------


def openai_chunk(content):
    return NS(object="chat.completion.chunk", choices=[NS(index=0, delta=NS(role=None, content=content))])


@pytest.mark.parametrize(
    "chunk, text",
    [
        ("plain", "plain"),
        ("", ""),
        (None, ""),
        (openai_chunk("Hel"), "Hel"),
        (openai_chunk(None), ""),  # role-only first chunk, tool-call chunks
        (NS(choices=[], usage=NS(total_tokens=9)), ""),  # the final usage chunk
        ({"choices": [{"delta": {"content": "lo"}}]}, "lo"),  # the same, parsed from JSON
        (NS(choices=[NS(text="legacy")]), "legacy"),  # completions API
        (NS(type="content_block_delta", index=0, delta=NS(type="text_delta", text="Hi")), "Hi"),
        ({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "!"}}, "!"),
        (NS(type="content_block_delta", delta=NS(type="input_json_delta", partial_json='{"a"')), ""),
        (NS(type="content_block_delta", delta=NS(type="thinking_delta", thinking="hmm")), ""),
        (NS(type="message_start", message=NS(content=[])), ""),
        (NS(type="ping"), ""),
        (NS(type="text", text="dup", snapshot="dup"), ""),  # the SDK's echo of the raw delta event
        (NS(type="response.output_text.delta", delta="resp"), "resp"),
        (NS(type="response.output_text.done", text="the whole text again"), ""),
        (NS(text="gemini"), "gemini"),
        (NS(content="langchain"), "langchain"),
        ({"message": {"role": "assistant", "content": "ollama"}}, "ollama"),
    ],
)
def test_chunk_text_reads_each_shape(chunk, text):
    assert chunk_text(chunk) == text


def test_an_anthropic_message_stream_counts_each_delta_once():
    # Iterating the SDK's MessageStream yields a "text" event next to each raw delta event.
    events = [
        NS(type="message_start", message=NS(content=[])),
        NS(type="content_block_start", index=0, content_block=NS(type="text", text="")),
        NS(type="content_block_delta", delta=NS(type="text_delta", text="Hello")),
        NS(type="text", text="Hello", snapshot="Hello"),
        NS(type="content_block_delta", delta=NS(type="text_delta", text=" world")),
        NS(type="text", text=" world", snapshot="Hello world"),
        NS(type="content_block_stop", index=0),
        NS(type="message_stop"),
    ]
    assert "".join(chunk_text(e) for e in events) == "Hello world"


@pytest.mark.parametrize("chunk", [42, NS(foo="bar"), {"data": "x"}])
def test_chunk_text_rejects_unknown_shapes(chunk):
    with pytest.raises(TypeError, match="text="):
        chunk_text(chunk)


def test_bytes_are_rejected_with_advice():
    with pytest.raises(TypeError, match="decode"):
        chunk_text(b"x")


# --- coalescing -----------------------------------------------------------------------------


class Feed:
    """A source the test drives: each `await feed.received(n)` waits until the consumer has n batches."""

    def __init__(self) -> None:
        self.batches: list[str] = []
        self.changed = asyncio.Event()
        self.closed = False

    async def received(self, count: int) -> None:
        while len(self.batches) < count:
            self.changed.clear()
            await self.changed.wait()

    async def consume(self, agen) -> list[str]:
        async for batch in agen:
            self.batches.append(batch)
            self.changed.set()
        return self.batches


def test_a_burst_is_one_batch():
    async def burst():
        for i in range(200):
            yield f"t{i} "

    batches = run(collect(coalesce_text(burst(), interval=HOUR)))
    assert batches == ["".join(f"t{i} " for i in range(200))]


def test_first_text_at_once_then_held_until_the_source_ends():
    feed = Feed()

    async def source():
        yield "a"
        await feed.received(1)
        yield "b"
        for _ in range(20):
            await asyncio.sleep(0)  # the consumer runs, and must hold "b" for the interval
        yield "c"

    assert run(feed.consume(coalesce_text(source(), interval=HOUR))) == ["a", "bc"]


def test_max_chars_releases_a_batch_early():
    feed = Feed()

    async def source():
        yield "ab"
        await feed.received(1)
        yield "cd"
        yield "ef"  # 4 chars waiting: out now, the interval notwithstanding
        await feed.received(2)
        yield "g"

    batches = run(feed.consume(coalesce_text(source(), interval=HOUR, max_chars=4)))
    assert batches == ["ab", "cdef", "g"]


def test_waiting_text_goes_out_while_the_source_pauses():
    feed = Feed()

    async def source():
        yield "a"
        await feed.received(1)
        yield "b"
        await feed.received(2)  # only the interval expiring can release "b"
        yield "c"

    assert run(feed.consume(coalesce_text(source(), interval=0.01))) == ["a", "b", "c"]


def test_interval_zero_sends_each_chunk_the_consumer_can_take():
    feed = Feed()

    async def source():
        for i, word in enumerate(["one", " two", " three"]):
            await feed.received(i)
            yield word

    assert run(feed.consume(coalesce_text(source(), interval=0))) == ["one", " two", " three"]


def test_a_source_error_comes_after_the_text_before_it():
    got: list[str] = []

    async def failing():
        yield "partial "
        yield "answer"
        raise ValueError("model overloaded")

    async def main():
        async for batch in coalesce_text(failing(), interval=HOUR):
            got.append(batch)

    with pytest.raises(ValueError, match="model overloaded"):
        run(main())
    assert got == ["partial answer"]


def endless_tokens(closed: asyncio.Event):
    """An endless model stream that notes when it is closed."""

    async def endless():
        try:
            while True:
                yield "tok "
                await asyncio.sleep(0.001)
        finally:
            closed.set()

    return endless


def test_closing_the_consumer_closes_the_source():
    closed = asyncio.Event()
    endless = endless_tokens(closed)

    async def main():
        updates = text_updates(endless(), "answer")
        await updates.__anext__()
        await updates.aclose()
        assert closed.is_set()

    run(main())


def test_a_closed_event_callback_closes_the_source_too():
    """What Flash does on Stop: close the user's generator, which loops over text_updates."""
    closed = asyncio.Event()
    endless = endless_tokens(closed)

    async def event_callback():
        async for update in text_updates(endless(), "answer"):
            yield update

    async def main():
        gen = event_callback()
        await gen.__anext__()
        await gen.aclose()
        await asyncio.wait_for(closed.wait(), 10)

    run(main())


def test_sync_iterables_are_read_off_the_loop():
    loop_thread = threading.get_ident()
    threads: set[int] = set()

    def tokens():
        for word in ["sync ", "tokens ", "work"]:
            threads.add(threading.get_ident())
            yield word

    assert "".join(run(collect(coalesce_text(tokens(), interval=HOUR)))) == "sync tokens work"
    assert loop_thread not in threads
    assert "".join(run(collect(coalesce_text(["a", "b", openai_chunk("c")])))) == "abc"


def test_a_sync_source_mid_step_is_closed_when_its_step_returns():
    release, closed = threading.Event(), threading.Event()

    def blocking():
        try:
            yield "first"
            release.wait(10)  # a blocking SDK read, in progress when the consumer closes
            yield "second"
        finally:
            closed.set()

    async def main():
        batches = coalesce_text(blocking(), interval=0)
        assert await batches.__anext__() == "first"
        step = asyncio.ensure_future(batches.__anext__())
        await asyncio.sleep(0.05)  # let the next step start in its thread (if not, the test still holds)
        step.cancel()
        await asyncio.wait([step])
        await batches.aclose()
        release.set()
        await asyncio.to_thread(closed.wait, 10)
        assert closed.is_set()

    run(main())


def test_the_source_sees_the_callers_context():
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    async def source():
        yield var.get()

    async def main():
        var.set("request 1")
        return await collect(coalesce_text(source()))

    assert run(main()) == ["request 1"]


def test_a_custom_text_extractor():
    chunks = [{"token": {"text": "Hug"}}, {"token": {"text": "ging"}}, {"token": {"text": None}}]
    batches = run(collect(coalesce_text(chunks, text=lambda c: c["token"]["text"])))
    assert "".join(batches) == "Hugging"


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"interval": -1}, ValueError),
        ({"interval": float("inf")}, ValueError),
        ({"max_chars": 0}, ValueError),
        ({"max_chars": True}, ValueError),
    ],
)
def test_bad_settings(kwargs, error):
    with pytest.raises(error):
        run(collect(coalesce_text(["x"], **kwargs)))


@pytest.mark.parametrize("chunks", ["one string", b"bytes", 42])
def test_chunks_must_be_an_iterable_of_chunks(chunks):
    with pytest.raises(TypeError):
        run(collect(coalesce_text(chunks)))


# --- Patch updates --------------------------------------------------------------------------


def operations(value):
    assert isinstance(value, Patch)
    return value.to_plotly_json()["operations"]


def test_append_text_is_dash_patch_add_on_a_string():
    assert operations(append_text("more")) == [{"operation": "Add", "location": [], "params": {"value": "more"}}]


def test_text_updates_replace_then_append():
    feed = Feed()

    async def source():
        yield "Hello"
        await feed.received(1)
        yield ", world"

    async def main():
        updates = []
        async for update in text_updates(source(), {"type": "answer", "index": 2}, "children", interval=0):
            assert isinstance(update, StreamProps)
            updates.append(update)
            feed.batches.append("")
            feed.changed.set()
        return updates

    first, second = run(main())
    assert first.to_wire() == [[{"type": "answer", "index": 2}, {"children": "Hello"}]]
    [[component_id, props]] = second.to_wire()
    assert component_id == {"type": "answer", "index": 2}
    assert operations(props["children"]) == [{"operation": "Add", "location": [], "params": {"value": ", world"}}]


def test_text_updates_without_replace_only_append():
    updates = run(collect(text_updates(["a", "b"], "log", "value", replace=False, interval=0)))
    appended = []
    for update in updates:
        [[_, props]] = update.to_wire()
        [operation] = operations(props["value"])
        assert operation["operation"] == "Add"
        appended.append(operation["params"]["value"])
    assert "".join(appended) == "ab"


def test_an_empty_stream_still_clears_the_prop():
    async def nothing():
        yield openai_chunk(None)

    [update] = run(collect(text_updates(nothing(), "answer")))
    assert update.to_wire() == [["answer", {"children": ""}]]
    assert run(collect(text_updates(nothing(), "answer", replace=False))) == []
