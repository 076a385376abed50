"""A downlink response tells who asked only about chunks it actually wrote (listener.Listener).

Why: the stream bus's follower acknowledges a run's messages from these receipts, and an ack
lets the run's Redis copy be trimmed; acking a message that was only queued lost it when the
page was cut before the write (its resume found a gap, and the run was started over)."""

from __future__ import annotations

import asyncio

from flash.streaming.wire.downlink import DownlinkRegistry
from flash.streaming.wire.listener import Listener


def test_a_receipt_fires_after_the_write_of_its_chunk_and_not_before():
    async def go():
        registry = DownlinkRegistry(resume_window=5)
        downlink = registry.open("d1", "token")
        listener = Listener()
        written: list[int] = []
        response = downlink.listen(lambda: b"hello", 60, listener)
        assert await response.__anext__() == b"hello"
        await downlink.deliver(b"one", lambda: written.append(1))
        await downlink.deliver(b"two", lambda: written.append(2))
        await downlink.deliver(b"plain")  # no receipt asked
        queued = list(written)
        batch = await response.__anext__()  # handed to the server, whose send has not returned yet
        handed = list(written)
        await downlink.deliver(b"three", lambda: written.append(3))
        batch_two = await response.__anext__()  # resuming the response: the first write returned
        after_first = list(written)
        await response.aclose()  # cut with the last write unconfirmed
        listener.stop_heartbeat()
        return queued, batch, handed, batch_two, after_first, written

    queued, batch, handed, batch_two, after_first, written = asyncio.run(go())
    assert batch == b"onetwoplain" and batch_two == b"three"
    assert queued == [] and handed == [], "queued or being written is not written"
    assert after_first == [1, 2], "the first batch's receipts, once its write returned"
    assert written == [1, 2], "the response was cut before its last write returned: no receipt"
