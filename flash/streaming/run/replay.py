"""A run's newest messages, kept for a resume, in little more memory than their JSON.

Why not the framed messages: a worker holds one of these per live run (10,000 browsers are
10,000 runs), each up to `stream_replay_size` messages (256). A framed message in a
`(seq, chunk)` tuple cost ~125 bytes besides its bytes, and its frame repeats the run id: a
frame of 60 bytes of JSON took ~265. Here each message is its payload (a bytes object, ~33 bytes
besides its JSON), one list slot and one byte for its event; sequence ids are consecutive, so
the first one says them all. A replay frames each message again: the same bytes as first sent.
"""

from __future__ import annotations

from ...server.sse import RunMessage, frame_run_event

RUN_EVENTS = ("props", "done", "error", "gone")  # what a run sends (docs/streaming-protocol.md)
_EVENT_CODES = {event: code for code, event in enumerate(RUN_EVENTS)}


class ReplayLog:
    """Messages `first_seq`, `first_seq + 1`, ... of one run; `nbytes` is their payloads' size.
    The run trims it (`drop_oldest`) to its replay bounds after each `append`."""

    __slots__ = ("first_seq", "nbytes", "_payloads", "_events")

    def __init__(self) -> None:
        self.first_seq = 1  # the sequence id of the oldest message kept
        self.nbytes = 0
        self._payloads: list[bytes] = []
        self._events = bytearray()  # each message's index in RUN_EVENTS

    def __len__(self) -> int:
        return len(self._payloads)

    def append(self, seq: int, message: RunMessage) -> None:
        if not self._payloads:
            self.first_seq = seq
        elif seq != self.first_seq + len(self._payloads):
            raise ValueError(f"message {seq} does not follow {self.first_seq + len(self._payloads) - 1}")
        self._payloads.append(message.payload)
        self._events.append(_EVENT_CODES[message.event])
        self.nbytes += len(message.payload)

    def drop_oldest(self) -> None:
        self.nbytes -= len(self._payloads.pop(0))
        del self._events[0]
        self.first_seq += 1

    def after(self, run_id: str, last_seq: int) -> list[bytes]:
        """The framed messages after `last_seq` (those still kept)."""
        start = max(0, last_seq + 1 - self.first_seq)
        return [
            frame_run_event(RUN_EVENTS[self._events[i]], run_id, self.first_seq + i, self._payloads[i])
            for i in range(start, len(self._payloads))
        ]
