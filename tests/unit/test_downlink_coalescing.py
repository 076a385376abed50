"""A downlink's response waits a few loop turns for more messages only when it is busy.

Why: on a busy response (fast generators, many streams on one page) waiting lets several
messages share one server write. On a quiet one (a paced frame after a spell with nothing) the
wait found nothing in practice and cost a task step per frame, ~10% of the frame's CPU with one
stream per browser; the first message after a quiet spell is written at once instead."""

from __future__ import annotations

import asyncio

from flash.streaming.wire.downlink import BUSY_WITHIN_S, DownlinkRegistry
from flash.streaming.wire.listener import Listener


async def _first_write_after(quiet_for: float) -> bytes:
    """Push m1, and m2 one loop turn later; return what the response writes first."""
    registry = DownlinkRegistry(1.0)
    downlink = registry.open("dl", "token")
    listener = Listener()
    chunks = downlink.listen(lambda: b"hello", 60.0, listener)
    try:
        assert await chunks.__anext__() == b"hello"
        written = asyncio.ensure_future(chunks.__anext__())
        for _ in range(3):  # the response now waits for a message
            await asyncio.sleep(0)
        assert listener.waiter is not None
        loop = asyncio.get_running_loop()
        listener.last_write = loop.time() - quiet_for
        listener.push(b"m1")  # wakes the response (its step is queued first)
        loop.call_soon(listener.push, b"m2")  # one turn later, as a fast generator would
        return await written
    finally:
        await chunks.aclose()
        listener.stop_heartbeat()


def test_a_busy_response_lets_the_next_message_share_its_write():
    assert asyncio.run(_first_write_after(BUSY_WITHIN_S / 10)) == b"m1m2"


def test_after_a_quiet_spell_the_first_message_is_written_at_once():
    assert asyncio.run(_first_write_after(1.0)) == b"m1"
