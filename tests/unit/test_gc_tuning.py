"""Server start keeps the garbage collector off the request path (see flash/gc_tuning.py)."""

import gc

import pytest
from quart import Quart

from flash import Flash, html
from flash.gc_tuning import YOUNG_THRESHOLD, tune_collector
from tests.conftest import run


@pytest.fixture
def python_gc_defaults():
    """Start from Python's own settings and put the process back as it was afterwards."""
    saved = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    yield
    gc.unfreeze()
    gc.set_threshold(*saved)


def _serve_once(server: Quart) -> None:
    async def go():
        async with server.test_app():  # runs the ASGI lifespan startup, as hypercorn/uvicorn do
            pass

    run(go())


def test_server_start_freezes_the_startup_heap_and_raises_the_young_threshold(python_gc_defaults):
    app = Flash(__name__)
    app.layout = html.Div("x")
    assert gc.get_freeze_count() == 0
    _serve_once(app.server)
    assert gc.get_freeze_count() > 10_000, "Dash's import-time heap is frozen"
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)


def test_nothing_changes_before_the_server_starts(python_gc_defaults):
    Flash(__name__).layout = html.Div("x")
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == (700, 10, 10)


def test_tune_gc_false_leaves_the_collector_alone(python_gc_defaults):
    app = Flash(__name__, tune_gc=False)
    app.layout = html.Div("x")
    _serve_once(app.server)
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == (700, 10, 10)


def test_a_higher_threshold_set_by_the_user_is_kept(python_gc_defaults):
    gc.set_threshold(50_000, 20, 20)
    run(tune_collector())
    assert gc.get_threshold() == (50_000, 20, 20)


def test_registered_once_on_a_users_server_even_after_init_app():
    server = Quart("mine")
    app = Flash(server=server)
    app.init_app(server)
    assert server.before_serving_funcs.count(tune_collector) == 1
