"""The one private name Flash reaches in redis-py (5.0.4 to 8.x), with why; `NEEDED` lists it.

The stream bus's busiest round trips (the run log's script calls, the doorbell reads, the acks)
each go over a connection of their own (`HeldConnection`, flash/storage/redis_client.py). Sending
on it, redis-py's public `send_packed_command` wraps the write in `asyncio.wait_for`, which costs
a task per command on Python 3.11 for a timeout the bus does not use; writing the packed command
to the connection's stream writer (its private `_writer`) and draining it is the same write
without that task. `tests/unit/test_compat.py` checks the entry against the installed redis-py,
and CI runs it at the floor (5.0.4) and at the newest (the `redis8` run). redis-py has no upper
pin, so a release that renames it must not break Flash: `send_packed` then takes the public path
(slower, same bytes on the wire).
"""

from __future__ import annotations

from typing import Any

from . import Private

NEEDED: tuple[Private, ...] = (
    Private(
        "redis.asyncio.connection:Connection",
        "_writer",
        "the stream bus's own connections write a packed command without a wait_for task per send",
        instance=True,
    ),
)


async def send_packed(connection: Any, packed: list[bytes]) -> None:
    """Write one packed command to a connected redis-py asyncio connection."""
    writer = getattr(connection, "_writer", None)
    if writer is None or not callable(getattr(writer, "writelines", None)):
        await connection.send_packed_command(packed, check_health=False)  # the public path
        return
    writer.writelines(packed)
    await writer.drain()


__all__ = ["NEEDED", "send_packed"]
