"""Run ends Redis refused, kept until it takes them.

Why: a run's last message (`done`, `error`, `gone`) is what tells a page that reconnects that the
run is over. When Redis refuses it (away, paused, read-only) and the run's worker lives on, no
lease lapses to end the run for the page: it would wait for it forever. The bus's tick writes
what is kept here once Redis answers again.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Awaitable, Callable

if TYPE_CHECKING:
    from ..run.runs import StreamRun

MAX_UNWRITTEN_ENDS = 10_000  # a few hundred bytes each, plus the run they keep for a while

WriteEnd = Callable[["StreamRun", bytes], Awaitable[None]]


class UnwrittenEnds:
    """run id -> (run, its final message, when to give up). Added by `keep`; removed by
    `write_due` once written or when `keep_for` has passed (the page's resume window is over: it
    started the run over or left), and the oldest goes first beyond `MAX_UNWRITTEN_ENDS`."""

    def __init__(self, keep_for: Callable[[], float]) -> None:
        self._keep_for = keep_for
        self._ends: dict[str, tuple["StreamRun", bytes, float]] = {}

    def __len__(self) -> int:
        return len(self._ends)

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._ends

    def keep(self, run: "StreamRun", chunk: bytes) -> None:
        if len(self._ends) >= MAX_UNWRITTEN_ENDS:
            self._ends.pop(next(iter(self._ends)))
        self._ends[run.run_id] = (run, chunk, time.monotonic() + self._keep_for())

    def forget_all(self) -> None:
        self._ends.clear()

    async def write_due(self, write: WriteEnd) -> None:
        """Write each kept end in turn; the first refusal raises (Redis is still away)."""
        now = time.monotonic()
        for run_id, (run, chunk, give_up) in list(self._ends.items()):
            if give_up >= now:
                await asyncio.shield(write(run, chunk))
            self._ends.pop(run_id, None)
