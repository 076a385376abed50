"""A run's newest messages, kept for a resume, in little more memory than their JSON.

Why not the framed messages: a worker holds one of these per live run (10,000 browsers are
10,000 runs), each up to `stream_replay_size` messages (256). A framed message in a
`(seq, chunk)` tuple cost ~125 bytes besides its bytes, and its frame repeats the run id: a
frame of 60 bytes of JSON took ~265. Here the payloads lie end to end in one buffer, with four
bytes for each one's length and one for its event: no object per message (a bytes object in a
list took ~41 bytes besides its JSON). Sequence ids are consecutive, so the first one says them
all. A replay frames each message again: the same bytes as first sent.
"""

from __future__ import annotations

from array import array

from ...server.sse import RunMessage, frame_run_event

RUN_EVENTS = ("props", "done", "error", "gone")  # what a run sends (docs/streaming-protocol.md)
_EVENT_CODES = {event: code for code, event in enumerate(RUN_EVENTS)}


class ReplayLog:
    """Messages `first_seq`, `first_seq + 1`, ... of one run; `nbytes` is their payloads' size.
    The run trims it (`drop_oldest`) to its replay bounds after each `append`."""

    __slots__ = ("first_seq", "_payloads", "_sizes", "_events")

    def __init__(self) -> None:
        self.first_seq = 1  # the sequence id of the oldest message kept
        self._payloads = bytearray()  # every kept message's JSON, oldest first, end to end
        self._sizes = array("I")  # each message's length in `_payloads`
        self._events = bytearray()  # each message's index in RUN_EVENTS

    def __len__(self) -> int:
        return len(self._events)

    @property
    def nbytes(self) -> int:
        return len(self._payloads)

    def append(self, seq: int, message: RunMessage) -> None:
        if not self._events:
            self.first_seq = seq
        elif seq != self.first_seq + len(self._events):
            raise ValueError(f"message {seq} does not follow {self.first_seq + len(self._events) - 1}")
        self._payloads += message.payload
        self._sizes.append(len(message.payload))
        self._events.append(_EVENT_CODES[message.event])

    def drop_oldest(self) -> None:
        # Deleting a bytearray's head moves its start, not its bytes (CPython).
        del self._payloads[: self._sizes.pop(0)]
        del self._events[0]
        self.first_seq += 1

    def after(self, run_id: str, last_seq: int) -> list[bytes]:
        """The framed messages after `last_seq` (those still kept)."""
        start = max(0, last_seq + 1 - self.first_seq)
        offset = sum(self._sizes[:start])
        framed = []
        with memoryview(self._payloads) as payloads:  # released before the buffer changes again
            for i in range(start, len(self._events)):
                end = offset + self._sizes[i]
                event = RUN_EVENTS[self._events[i]]
                framed.append(frame_run_event(event, run_id, self.first_seq + i, payloads[offset:end]))
                offset = end
        return framed
