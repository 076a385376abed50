"""App factories for the servers: `hypercorn 'benchmarks.serve:flash()'`, `uvicorn --factory ...`.

Factories rather than module attributes, so a server process only ever builds the one app it
serves: no other framework's registries or memory end up in its RSS.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from . import apps


def flash() -> Any:
    """Flash's app. `FLASH_METRICS=1` (Flash reads it) turns metrics on; with it, `BENCH_OTEL=1`
    also configures an OpenTelemetry SDK (the `+metrics`/`+otel` variants: contenders.py)."""
    from flash import Flash

    if os.environ.get("BENCH_OTEL") == "1":
        install_otel_sdk()
    return apps.build_app(Flash, stream_heartbeat=1).server


def install_otel_sdk() -> None:
    """What an app that traces configures: the SDK's provider and a batch processor (spans leave
    the request path on its own thread). The exporter drops them: the figure is Flash's and the
    SDK's cost per span, not a collector's network."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class DropSpans(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DropSpans()))
    trace.set_tracer_provider(provider)


def flash_cluster() -> Any:
    """W9/W10's app (one of two workers): shared storage and secret come from the environment
    (`FLASH_SHARED_STORAGE`, `FLASH_SECRET_KEY`), as in a real deployment."""
    from .cluster_app import build

    return build().server


def dash_quart() -> Any:
    import dash

    return apps.build_app(dash.Dash, backend="quart").server


def dash_flask() -> Any:
    """A WSGI app. Plain `pip install dash` has no asgiref, so Dash serves sync views: match that."""
    import dash

    return apps.build_app(dash.Dash, use_async=False).server


def dash45() -> Any:
    """Dash 4.5 on Quart, run in benchmarks/.venv-dash45 (benchmarks/dash45.py): the same app."""
    import dash

    return apps.build_app(dash.Dash, backend="quart").server


def dash45_frames() -> Any:
    """W12's app on Dash 4.5 (its own API: an `async def` generator `@callback` streams)."""
    from .dash45_app import build

    return build().server


def raw() -> Any:
    from .raw import RawApp

    return RawApp()


def w11_flash() -> Any:
    """W11's apps (benchmarks/page_apps.py; `BENCH_W11_APP` picks which), on each framework."""
    from flash import Flash

    from .page_apps import build

    return build(Flash).server


def w11_dash_quart() -> Any:
    import dash

    from .page_apps import build

    return build(dash.Dash, backend="quart").server


def w11_raw() -> Any:
    from .page_apps import RawPages

    return RawPages()


FACTORIES: dict[str, Callable[[], Any]] = {
    "flash": flash,
    "flash_cluster": flash_cluster,
    "dash_quart": dash_quart,
    "dash_flask": dash_flask,
    "raw": raw,
    "dash45": dash45,
    "dash45_frames": dash45_frames,
    "w11_flash": w11_flash,
    "w11_dash_quart": w11_dash_quart,
    "w11_raw": w11_raw,
}


def make(name: str) -> Any:
    """The ASGI (or, for dash_flask, WSGI) callable for app `name`, built fresh."""
    return FACTORIES[name]()
