"""The one shared-storage contract, run against every backend (tests/unit/test_shared_storage.py
for Local and Diskcache, tests/integration/test_shared_storage_redis.py for Redis on a real
redis-server). A backend test class subclasses `StorageContract` and provides two fixtures:
`storage` (a fresh backend) and `storage_code` (Python source, run in another process, that
builds a backend sharing the same data as `storage`)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flash import BaseSharedStorage, SharedStorageError, SharedStorageGap
from flash.testing import wait_for

REPO = Path(__file__).resolve().parents[1]


def take(sub, count: int) -> list[tuple[int, object]]:
    """The next `count` (seq, message) pairs of a subscription, by sync iteration."""
    got = []
    for pair in sub.iter_with_seq():
        got.append(pair)
        if len(got) == count:
            break
    return got


async def atake(sub, count: int, timeout: float = 10) -> list[tuple[int, object]]:
    async def go():
        got = []
        async for pair in sub.aiter_with_seq():
            got.append(pair)
            if len(got) == count:
                return got
        return got

    return await asyncio.wait_for(go(), timeout)


def run_in_other_process(storage_code: str, body: str, timeout: float = 30) -> str:
    """Run `body` in a fresh Python process where `storage` is built by `storage_code`."""
    source = "from flash import *\n" + textwrap.dedent(storage_code) + "\n" + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", source],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class StorageContract:
    # --- key/value ----------------------------------------------------------------------
    def test_is_a_base_shared_storage(self, storage):
        assert isinstance(storage, BaseSharedStorage)

    def test_get_set_delete(self, storage):
        assert storage.get("missing") is None
        assert storage.get("missing", "dflt") == "dflt"
        value = {"a": [1, 2.5, "x", None, True]}
        storage.set("k", value)
        value["a"].append("later")  # a stored value is a copy
        assert storage.get("k") == {"a": [1, 2.5, "x", None, True]}
        storage.set("k", 7)
        assert storage.get("k") == 7
        storage.delete("k")
        assert storage.get("k", "gone") == "gone"
        storage.delete("never-set")  # no error

    def test_values_must_be_json_compatible(self, storage):
        with pytest.raises(SharedStorageError):
            storage.set("k", object())
        with pytest.raises(SharedStorageError):
            storage.publish("t", {1, 2})

    def test_ttl_expires_a_key(self, storage):
        storage.set("short", "soon gone", ttl=0.2)
        storage.set("long", "stays")
        assert storage.get("short") == "soon gone"
        wait_for(lambda: storage.get("short", "expired") == "expired", timeout=10, msg="ttl expiry")
        assert storage.get("long") == "stays"
        storage.set("short", "back")  # set without ttl: no expiry
        assert storage.get("short") == "back"

    @pytest.mark.parametrize("ttl", [0, -1, "5", True])
    def test_bad_ttl_is_refused(self, storage, ttl):
        with pytest.raises(ValueError):
            storage.set("k", 1, ttl=ttl)

    def test_async_twins(self, storage):
        async def go():
            await storage.aset("ak", {"v": 1})
            first = await storage.aget("ak")
            await storage.aset("at", "x", ttl=0.2)
            for _ in range(200):
                if await storage.aget("at") is None:
                    break
                await asyncio.sleep(0.05)
            expired = await storage.aget("at", "expired")
            await storage.adelete("ak")
            seq = await storage.apublish("atopic", "m")
            sub = await storage.asubscribe("atopic", replay_from=seq - 1)
            got = await atake(sub, 1)
            sub.close()
            return first, expired, await storage.aget("ak"), got, seq

        first, expired, after_delete, got, seq = asyncio.run(go())
        assert (first, expired, after_delete) == ({"v": 1}, "expired", None)
        assert got == [(seq, "m")]

    # --- pub/sub ------------------------------------------------------------------------
    def test_publish_numbers_each_topic_from_one(self, storage):
        assert [storage.publish("a", i) for i in range(3)] == [1, 2, 3]
        assert storage.publish("b", "x") == 1

    def test_messages_arrive_in_order_with_their_numbers(self, storage):
        for i in range(300):  # more than one poll batch
            storage.publish("order", {"i": i})
        with storage.subscribe("order", replay_from=0) as sub:
            got = take(sub, 300)
        assert got == [(i + 1, {"i": i}) for i in range(300)]

    def test_a_subscription_starts_at_the_head(self, storage):
        storage.publish("head", "before")
        sub = storage.subscribe("head")
        storage.publish("head", "after")
        assert take(sub, 1) == [(2, "after")]
        sub.close()

    def test_replay_from_a_position_and_resume_from_the_cursor(self, storage):
        for i in range(1, 11):
            storage.publish("replay", i)
        sub = storage.subscribe("replay", replay_from=4)
        assert [m for _, m in take(sub, 3)] == [5, 6, 7]
        cursor = sub.cursor
        sub.close()
        assert cursor == 7
        resumed = storage.subscribe("replay", replay_from=cursor)
        assert take(resumed, 3) == [(8, 8), (9, 9), (10, 10)]
        resumed.close()

    def test_poll_returns_what_is_new_without_blocking(self, storage):
        """Dash 4.5's one-shot `Subscription.poll`: the pairs since the cursor, then nothing."""
        storage.publish("poll", "old")
        sub = storage.subscribe("poll")
        assert sub.poll(timeout=0) == []
        storage.publish("poll", "a")
        storage.publish("poll", {"b": 2})
        assert sub.poll(timeout=5) == [(2, "a"), (3, {"b": 2})]
        assert sub.poll(timeout=0) == [] and sub.cursor == 3
        sub.close()

    def test_publish_takes_a_topic_ttl_checked_as_dash_checks_it(self, storage):
        assert storage.publish("ttl", "m", ttl=60) == 1
        assert asyncio.run(storage.apublish("ttl", "n", ttl=1.5)) == 2
        for bad in (0.5, 0, -1, float("inf"), float("nan"), "60"):
            with pytest.raises(SharedStorageError):
                storage.publish("ttl", "x", ttl=bad)

    def test_replay_past_the_window_is_a_gap(self, small_storage):
        for i in range(1, 11):
            small_storage.publish("gap", i)  # the window holds the last 5
        with pytest.raises(SharedStorageGap):
            take(small_storage.subscribe("gap", replay_from=2), 1)
        assert [m for _, m in take(small_storage.subscribe("gap", replay_from=5), 5)] == [6, 7, 8, 9, 10]

        async def go():
            with pytest.raises(SharedStorageGap):
                await atake(small_storage.subscribe("gap", replay_from=1), 1)

        asyncio.run(go())

    def test_two_async_subscribers_each_get_everything_in_order(self, storage):
        async def go():
            first = storage.subscribe("fan")
            second = await storage.asubscribe("fan")
            readers = [asyncio.ensure_future(atake(s, 20)) for s in (first, second)]
            await asyncio.sleep(0.05)
            for i in range(20):
                await storage.apublish("fan", i)
                if i % 5 == 0:
                    await asyncio.sleep(0.01)
            results = await asyncio.gather(*readers)
            first.close()
            second.close()
            return results

        for got in asyncio.run(go()):
            assert got == [(i + 1, i) for i in range(20)]

    def test_cancelling_an_async_consumer_closes_its_subscription(self, storage):
        async def go():
            sub = storage.subscribe("cancel")
            seen = []

            async def consume():
                async for message in sub:
                    seen.append(message)

            task = asyncio.ensure_future(consume())
            await storage.apublish("cancel", "one")
            for _ in range(200):
                if seen:
                    break
                await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return seen, sub.closed

        seen, closed = asyncio.run(go())
        assert seen == ["one"] and closed

    def test_close_ends_a_sync_iteration(self, storage):
        sub = storage.subscribe("closing", replay_from=0)
        storage.publish("closing", "a")
        storage.publish("closing", "b")
        got = []
        for message in sub:
            got.append(message)
            sub.close()
        assert got == ["a"]

    # --- across processes ---------------------------------------------------------------
    def test_another_process_sees_values_and_messages(self, storage, storage_code):
        storage.set("from-parent", {"n": 1})
        sub = storage.subscribe("xproc")
        out = run_in_other_process(
            storage_code,
            """
            import json
            print(json.dumps(storage.get("from-parent")))
            storage.set("from-child", [1, 2, 3], ttl=60)
            for i in range(3):
                storage.publish("xproc", {"child": i})
            storage.close()
        """,
        )
        assert out.strip() == '{"n": 1}'
        assert storage.get("from-child") == [1, 2, 3]
        assert [m for _, m in take(sub, 3)] == [{"child": 0}, {"child": 1}, {"child": 2}]
        sub.close()
