"""A run's replay log keeps each message as its event and JSON payload, and a resume gets the
very bytes first sent; 256 frames of a run cost little more than their JSON (replay.py)."""

from __future__ import annotations

import tracemalloc

import pytest

from flash.server.sse import RunMessage, encode_run_event
from flash.streaming.run.replay import ReplayLog
from flash.streaming.run.runs import StreamRun
from tests.conftest import run


class _Sink:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def deliver(self, chunk: bytes) -> None:
        self.sent.append(chunk)

    def push_now(self, chunk: bytes) -> None:
        self.sent.append(chunk)


def test_a_framed_message_is_the_encoded_run_event():
    data = [["out", {"children": {"f": 1, "text": "é ✓"}}]]
    assert RunMessage("props", data).framed("r1", 7) == encode_run_event("props", "r1", 7, data)
    assert encode_run_event("done", "r1", 8, {}) == b'event: done\ndata: {"run":"r1","seq":8,"data":{}}\n\n'


def test_a_resume_replays_the_bytes_first_sent_from_any_point_kept():
    async def go():
        stream_run = StreamRun("run-a", "h", "s", _Sink(), replay_size=5)
        for i in range(8):
            await stream_run.publish(RunMessage("props", [["out", {"children": i}]]))
        await stream_run.publish_final(RunMessage("error", {"message": "boom"}))
        return stream_run

    stream_run = run(go())
    sent = stream_run.downlink.sent
    assert stream_run.replay.first_seq == 5 and len(stream_run.replay) == 5
    for last in range(4, 10):
        assert stream_run.can_resume(last)
        assert stream_run.replay_after(last) == sent[last:], f"replay after {last}"
    assert not stream_run.can_resume(3), "message 4 left the log"
    assert stream_run.replay_after(9) == [] and not stream_run.can_resume(10)


def test_the_closing_announcement_is_kept_and_replayed_too():
    async def go():
        stream_run = StreamRun("run-b", "h", "s", _Sink(), replay_size=10)
        await stream_run.publish(RunMessage("props", [["out", {"children": 1}]]))
        await stream_run.announce_closed(RunMessage("done", {"closed": True}))
        return stream_run

    stream_run = run(go())
    assert stream_run.replay_after(0) == stream_run.downlink.sent
    assert stream_run.replay_after(1)[0].startswith(b"event: done\n")


def test_messages_must_follow_each_other():
    log = ReplayLog()
    log.append(3, RunMessage("props", 1))
    with pytest.raises(ValueError):
        log.append(5, RunMessage("props", 2))


def test_a_full_log_of_frames_costs_little_more_than_their_json():
    payload = {"f": 1_733_600_000_000_000_000, "i": 12345}
    frame = [["w12-out", {"children": payload}]]
    size = len(RunMessage("props", frame).payload)  # ~55 bytes of JSON
    tracemalloc.start(8)  # frames enough to see this test below any allocation it causes
    try:
        log = ReplayLog()
        for seq in range(1, 1025):  # a full log that keeps dropping its oldest, as a long run's
            log.append(seq, RunMessage("props", frame))
            if len(log) > 256:
                log.drop_oldest()
        # Only what this test's own calls allocated: other threads of the test process (a server
        # left by an earlier test) allocate meanwhile too, and tracemalloc counts every thread.
        mine = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, __file__, all_frames=True)])
        held = sum(stat.size for stat in mine.statistics("filename"))
    finally:
        tracemalloc.stop()
    per_message = held / 256
    # A (seq, framed chunk) tuple in a list held ~125 bytes besides the frame, which repeats the
    # run id: ~265 bytes for this message; a bytes object in a list, ~105. Its JSON in one buffer
    # (grown by an eighth at a time), four bytes of length and one of event: ~77 on 3.11.
    assert per_message < size + 24, f"{per_message:.0f} bytes per {size}-byte frame"


def test_a_log_keeps_taking_messages_after_a_resume_read_it():
    # A resume reads the log through a view of its buffer; a view left alive would make the
    # next append fail (a bytearray with exports cannot be resized).
    log = ReplayLog()
    for seq in range(1, 40):
        log.append(seq, RunMessage("props", [["out", {"children": "x" * seq}]]))
        if len(log) > 16:
            log.drop_oldest()
        replayed = log.after("r", seq - 3)
        assert [chunk.split(b'"seq":')[1].split(b",")[0] for chunk in replayed] == [
            str(n).encode() for n in range(max(seq - 2, log.first_seq), seq + 1)
        ]
    assert len(log) == 16 and log.first_seq == 24
    assert log.nbytes == sum(len(RunMessage("props", [["out", {"children": "x" * n}]]).payload) for n in range(24, 40))
