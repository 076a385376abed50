"""One OpenTelemetry span per ordinary callback request (issue 26), with metrics on: the real SDK
exports to memory, the requests go through Flash's real routes (Quart's view and the direct ASGI
path) with Quart's test client. The span names the callback's output, says where it ran (async on
the loop, sync in the pool) and how it ended; it is current while the callback runs, so the
callback's own spans are its children."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider, StatusCode
from quart import abort
from werkzeug.exceptions import NotFound

from flash import Flash, Input, Output, html
from flash.exceptions import PreventUpdate
from flash.metrics.tracing import CALLBACK_TRACER_NAME, callback_outcome
from flash.server.errors import RequestError
from tests.conftest import callback_body, dep, run

PATHS = pytest.mark.parametrize("direct_path", [True, False], ids=["direct", "quart"])
REPO = Path(__file__).resolve().parents[2]
OUTPUTS = ("on-loop", "in-thread", "prevented", "boom", "forbidden")


def traced_app(direct_path: bool) -> tuple[Flash, InMemorySpanExporter, dict]:
    app = Flash(__name__, metrics=True, direct_path=direct_path)
    app.layout = html.Div([html.Button(id="btn")] + [html.Div(id=name) for name in OUTPUTS])
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("the app's own")
    app.stream_runs.metrics.callback_tracer.tracer = provider.get_tracer(CALLBACK_TRACER_NAME)  # not the global one
    seen: dict = {}

    @app.callback(Output("on-loop", "children"), Input("btn", "n_clicks"))
    async def on_loop(n):
        seen["async"] = trace.get_current_span().get_span_context().span_id
        with tracer.start_as_current_span("the callback's query"):
            await asyncio.sleep(0)
        return f"async {n}"

    @app.callback(Output("in-thread", "children"), Input("btn", "n_clicks"))
    def in_thread(n):
        seen["sync"] = trace.get_current_span().get_span_context().span_id
        return f"sync {n}"

    @app.callback(Output("prevented", "children"), Input("btn", "n_clicks"))
    async def prevented(n):
        raise PreventUpdate

    @app.callback(Output("boom", "children"), Input("btn", "n_clicks"))
    def boom(n):
        raise ValueError("the callback failed")

    @app.callback(Output("forbidden", "children"), Input("btn", "n_clicks"))
    async def forbidden(n):
        abort(403)

    return app, exporter, seen


async def post_all(app: Flash) -> dict[str, int]:
    client = app.server.test_client()
    statuses = {}
    for name in OUTPUTS:
        response = await client.post(
            "/_dash-update-component", json=callback_body(f"{name}.children", [dep("btn", "n_clicks", 1)])
        )
        await response.get_data()
        statuses[name] = response.status_code
    bad = await client.post("/_dash-update-component", json={"output": "on-loop.children"})  # no inputs: a 400
    statuses["bad"] = bad.status_code
    return statuses


@PATHS
def test_each_callback_request_is_one_span_current_while_the_callback_runs(direct_path):
    app, exporter, seen = traced_app(direct_path)
    statuses = run(post_all(app))
    assert statuses == {"on-loop": 200, "in-thread": 200, "prevented": 204, "boom": 500, "forbidden": 403, "bad": 400}
    spans = {span.name: span for span in exporter.get_finished_spans()}
    # The malformed body is refused before any callback is chosen: it makes no span.
    assert set(spans) == {f"callback {name}.children" for name in OUTPUTS} | {"the callback's query"}
    ok, sync = spans["callback on-loop.children"], spans["callback in-thread.children"]
    assert dict(ok.attributes) == {
        "flash.callback.output": "on-loop.children",
        "flash.callback.kind": "async",
        "flash.callback.triggered": ("btn.n_clicks",),
        "flash.callback.outcome": "ok",
    }
    assert sync.attributes["flash.callback.kind"] == "sync" and sync.attributes["flash.callback.outcome"] == "ok"
    assert ok.status.status_code == sync.status.status_code == StatusCode.UNSET
    # Current on the loop and in the pool thread: the callback's own span is the request span's child.
    assert seen == {"async": ok.context.span_id, "sync": sync.context.span_id}
    assert spans["the callback's query"].parent.span_id == ok.context.span_id
    assert ok.parent is None  # no server span around it here: a root span of its own trace

    prevented, forbidden = spans["callback prevented.children"], spans["callback forbidden.children"]
    assert prevented.attributes["flash.callback.outcome"] == "prevented"
    assert forbidden.attributes["flash.callback.outcome"] == "rejected"
    assert prevented.status.status_code == forbidden.status.status_code == StatusCode.UNSET
    assert not prevented.events and not forbidden.events
    failed = spans["callback boom.children"]
    assert failed.attributes["flash.callback.outcome"] == "error" and failed.attributes["flash.callback.kind"] == "sync"
    assert failed.status.status_code == StatusCode.ERROR
    (event,) = failed.events
    assert event.name == "exception" and event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "the callback failed"


@PATHS
def test_without_an_sdk_the_callback_runs_under_the_span_that_was_current(direct_path):
    """opentelemetry-api alone (no SDK: every span is invalid and records nothing): the request
    is answered as usual and the callback sees the context it would have seen untraced."""
    app = Flash(__name__, metrics=True, direct_path=direct_path)
    app.layout = html.Div([html.Button(id="btn"), html.Div(id="out")])
    app.stream_runs.metrics.callback_tracer.tracer = NoOpTracerProvider().get_tracer(CALLBACK_TRACER_NAME)
    current = []

    @app.callback(Output("out", "children"), Input("btn", "n_clicks"))
    def out(n):
        current.append(trace.get_current_span())
        return n * 2

    async def go():
        response = await app.server.test_client().post(
            "/_dash-update-component", json=callback_body("out.children", [dep("btn", "n_clicks", 4)])
        )
        return response.status_code, json.loads(await response.get_data())

    assert run(go()) == (200, {"multi": True, "response": {"out": {"children": 8}}})
    assert current == [trace.INVALID_SPAN]


GLOBAL_PROVIDER = """
import asyncio, json
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from flash import Flash, Input, Output, html

apps = {}
for metrics in (True, False):
    app = apps[metrics] = Flash(__name__, metrics=metrics)
    app.layout = html.Div([html.Button(id="btn"), html.Div(id="out")])
    app.callback(Output("out", "children"), Input("btn", "n_clicks"))(lambda n: n)
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)  # as an app does at startup: after its Flash apps exist

async def post(app):
    body = {"output": "out.children", "outputs": {"id": "out", "property": "children"},
            "inputs": [{"id": "btn", "property": "n_clicks", "value": 1}], "changedPropIds": ["btn.n_clicks"]}
    response = await app.server.test_client().post("/_dash-update-component", json=body)
    return response.status_code

statuses = {str(metrics): asyncio.run(post(app)) for metrics, app in apps.items()}
print(json.dumps({"statuses": statuses, "spans": [span.name for span in exporter.get_finished_spans()]}))
"""


def test_the_global_provider_is_followed_and_metrics_off_makes_no_span():
    """As an app configures OpenTelemetry (the global provider, set after the apps exist): the
    app with metrics on traces its request, the one with metrics off (no tracer at all) does not.
    A subprocess: the global provider can be set once per process."""
    proc = subprocess.run(
        [sys.executable, "-c", GLOBAL_PROVIDER],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"statuses": {"True": 200, "False": 200}, "spans": ["callback out.children"]}


def test_outcomes_name_who_failed():
    assert callback_outcome(None) == "ok"
    assert callback_outcome(PreventUpdate()) == "prevented"
    assert callback_outcome(RequestError("bad", status=422)) == "rejected"
    assert callback_outcome(NotFound()) == "rejected"
    assert callback_outcome(asyncio.CancelledError()) == "cancelled"
    assert callback_outcome(RuntimeError("x")) == "error"
