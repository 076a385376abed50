"""The pool sync callbacks run in: sized for blocking calls by default, overridable, and a
warning in the log when calls queue for a thread longer than `thread_queue_warning`."""

import asyncio
import logging
import threading
import time

import pytest

from flash import Flash, Input, Output, html
from flash.server.threads import DEFAULT_THREAD_POOL_SIZE, run_in_thread
from tests.conftest import callback_body, dep, run
from tests.unit.forking import child_exit_code


def concurrent_calls(app, calls, parties=None):
    """Run `calls` blocking calls at once in the app's pool, each waiting for `parties` (default:
    all) to be running together; the most that ran at the same time."""
    lock = threading.Lock()
    barrier = threading.Barrier(parties or calls, timeout=5)
    state = {"now": 0, "most": 0}

    def block():
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        try:
            barrier.wait()  # all `calls` at once, or BrokenBarrierError after 5 s
        except threading.BrokenBarrierError:
            pass
        with lock:
            state["now"] -= 1

    async def go():
        await asyncio.gather(*(run_in_thread(app.backend.executor, block) for _ in range(calls)))

    run(go())
    return state["most"]


def test_default_pool_runs_many_blocking_calls_at_once():
    app = Flash(__name__)
    assert app.backend.thread_pool_size == DEFAULT_THREAD_POOL_SIZE >= 40
    # Python's default (cpu + 4) would run 6 of them at a time on 2 cores.
    assert concurrent_calls(app, DEFAULT_THREAD_POOL_SIZE) == DEFAULT_THREAD_POOL_SIZE


def test_thread_pool_size_overrides_the_default(monkeypatch):
    app = Flash(__name__, thread_pool_size=3)
    assert concurrent_calls(app, 6, parties=3) == 3
    monkeypatch.setenv("FLASH_THREAD_POOL_SIZE", "7")
    assert Flash(__name__).backend.thread_pool_size == 7
    assert Flash(__name__, thread_pool_size=2).backend.thread_pool_size == 2


@pytest.mark.parametrize(
    "option",
    [
        {"thread_pool_size": 0},
        {"thread_pool_size": "8"},
        {"thread_queue_warning": 0},
        {"thread_queue_warning": -1.0},
        {"shutdown_grace": -1},
        {"shutdown_grace": float("inf")},
    ],
)
def test_bad_pool_and_shutdown_options_are_refused(option):
    with pytest.raises(ValueError):
        Flash(__name__, **option)


def slow_start_warnings(caplog):
    return [r for r in caplog.records if r.name == "flash.threads" and "waited" in r.getMessage()]


def saturate(app, queued):
    """Hold the app's only thread until `queued` more calls have waited at least 0.2 s for it."""
    release = threading.Event()

    async def go():
        holder = asyncio.ensure_future(run_in_thread(app.backend.executor, release.wait, 5))
        waiting = [asyncio.ensure_future(run_in_thread(app.backend.executor, lambda: None)) for _ in range(queued)]
        await asyncio.sleep(0)
        time.sleep(0.2)  # the queued calls wait at least this long (monotonic stamps)
        release.set()
        await asyncio.gather(holder, *waiting)

    run(go())


def test_a_call_that_waited_for_a_thread_logs_one_warning(caplog):
    app = Flash(__name__, thread_pool_size=1, thread_queue_warning=0.05)
    with caplog.at_level(logging.WARNING, logger="flash.threads"):
        saturate(app, queued=5)
    warnings = slow_start_warnings(caplog)
    assert len(warnings) == 1, "rate-limited: five slow starts, one line"
    text = warnings[0].getMessage()
    assert "thread_pool_size=1" in text and "\n" not in text


def test_a_sync_callback_in_a_saturated_pool_warns(caplog):
    app = Flash(__name__, thread_pool_size=1, thread_queue_warning=0.05)
    app.layout = html.Div([html.Div(id="a"), html.Div(id="b")])
    release = threading.Event()

    @app.callback(Output("b", "children"), Input("a", "children"))
    def quick(value):
        return value

    async def go():
        client = app.server.test_client()
        await client.get("/")
        holder = asyncio.ensure_future(run_in_thread(app.backend.executor, release.wait, 5))
        answer = asyncio.ensure_future(
            client.post("/_dash-update-component", json=callback_body("b.children", [dep("a", "children", 1)]))
        )
        await asyncio.sleep(0.3)  # the callback is queued behind `holder` by now
        release.set()
        await holder
        return (await answer).status_code

    with caplog.at_level(logging.WARNING, logger="flash.threads"):
        assert run(go()) == 200
    assert len(slow_start_warnings(caplog)) == 1


def test_no_warning_when_threads_are_free_or_the_warning_is_off(caplog):
    with caplog.at_level(logging.WARNING, logger="flash.threads"):
        concurrent_calls(Flash(__name__, thread_pool_size=8, thread_queue_warning=5.0), 8)
        saturate(Flash(__name__, thread_pool_size=1, thread_queue_warning=None), queued=3)
    assert slow_start_warnings(caplog) == []


def test_a_forked_process_gets_a_working_pool_of_its_own():
    """A process forked after the pool ran something (a test runner, `gunicorn --preload`) has
    the pool object but none of its threads: sync work there must still run, not hang."""
    import os

    from flash import Flash
    from flash.server.threads import run_in_thread

    app = Flash(__name__)
    assert asyncio.run(run_in_thread(app.backend.executor, lambda: "parent")) == "parent"
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the pool answers within 10 s
        try:
            answer = asyncio.run(asyncio.wait_for(run_in_thread(app.backend.executor, lambda: "child"), 10))
            os._exit(0 if answer == "child" else 1)
        except BaseException:
            os._exit(2)
    assert child_exit_code(pid, 30, "the forked process") == 0
