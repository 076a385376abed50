"""A downlink response's queue allocates nothing per write: its two lists swap places, and the
receipts (the bus's acks) move only when there are some. At 10,000 streams every object a write
leaves alive until the next one sits in the collector's young generation, which each young
collection walks (benchmarks/README.md, issue 24 item 5)."""

from __future__ import annotations

from flash.streaming.wire.listener import Listener


def test_writes_reuse_the_same_two_lists():
    listener = Listener()
    lists = set()
    for i in range(6):
        listener.push(b"m%d" % i)
        listener.push(b"n%d" % i)
        batch = listener.take()
        assert batch == [b"m%d" % i, b"n%d" % i] and listener.pending == [] and listener.pending_bytes == 0
        listener.push(b"during the write")  # lands in the other list, not in the batch being written
        assert batch == [b"m%d" % i, b"n%d" % i]
        lists |= {id(batch), id(listener.pending)}
        listener.written()
        assert listener.take() == [b"during the write"]
        listener.written()
    assert len(lists) == 2, "a write made a new list"


def test_receipts_are_called_once_their_batch_is_written_in_order():
    listener = Listener()
    calls: list[str] = []
    listener.push(b"a", lambda: calls.append("a"))
    listener.push(b"b")
    listener.push(b"c", lambda: calls.append("c"))
    assert listener.take() == [b"a", b"b", b"c"]
    listener.push(b"d", lambda: calls.append("d"))  # queued during the write: the next batch's
    assert calls == []
    listener.written()
    assert calls == ["a", "c"]
    assert listener.take() == [b"d"]
    listener.written()
    assert calls == ["a", "c", "d"]
    listener.written()  # nothing in flight: nothing called twice
    assert calls == ["a", "c", "d"]


def test_a_batch_taken_twice_without_its_write_is_not_sent_again():
    listener = Listener()
    listener.push(b"a")
    assert listener.take() == [b"a"]  # its write never returned (the response was cut)
    listener.push(b"b")
    assert listener.take() == [b"b"]
    listener.written()
    assert listener.take() == [] and listener.pending == []
