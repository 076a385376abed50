"""Which streams run as Celery jobs (jobs.py): only `background=True` event callbacks of an app
with a CeleryManager and Redis shared storage; the task is registered once on the Celery app."""

import pytest
from celery import Celery

from flash import CeleryManager, Flash, Input, event_callback, html, stream_props
from flash.streaming.declare.spec import PENDING_STREAMS
from flash.streaming.wire import jobs


def app_with(manager=None, redis=False):
    options = {"background_callback_manager": manager} if manager is not None else {}
    if redis:
        options["shared_storage"] = "redis://127.0.0.1:1/0"  # never connected to here
    app = Flash(__name__, **options)
    app.layout = html.Div([html.Button(id="go"), html.Div(id="out")])
    return app


def declare(background):
    @event_callback(Input("go", "n_clicks"), background=background)
    async def crunch(n):
        yield stream_props("out", {"children": n})

    return PENDING_STREAMS[-1]


@pytest.mark.parametrize(
    "manager, redis, background, expected",
    [
        ("celery", True, True, True),
        ("celery", True, False, False),
        ("celery", False, True, False),  # no Redis: the web worker runs it
        (None, True, True, False),  # no CeleryManager
    ],
)
def test_only_background_streams_of_a_celery_app_with_redis_storage_run_as_jobs(manager, redis, background, expected):
    celery = Celery("t", broker="memory://", backend="cache+memory://")
    app = app_with(CeleryManager(celery) if manager else None, redis)
    spec = declare(background)
    assert spec.background is background
    assert jobs.runs_as_job(app, spec) is expected


def test_the_job_task_is_registered_once_on_the_celery_app():
    celery = Celery("t", broker="memory://", backend="cache+memory://")
    first = app_with(CeleryManager(celery), redis=True)
    task = celery.tasks[jobs.TASK_NAME]
    second = app_with(CeleryManager(celery), redis=True)
    assert celery.tasks[jobs.TASK_NAME] is task
    assert jobs._APPS[id(celery)] is second and first is not second
