"""flash.metrics' logic (issue 26): histogram buckets as Prometheus reads them, the per-write
accounting, the option and its env, the route only when asked for, a clear error without
prometheus-client, the thread pool's wait, and that the package sits below the streaming layer."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from flash import Flash, html
from flash.metrics import StreamMetrics, metrics_option
from flash.metrics.registry import (
    LAG_BUCKETS,
    Histogram,
    LockedHistogram,
    pool_wait_histogram,
)
from flash.metrics.tracing import RunTracer
from flash.server.threads import run_in_thread
from flash.streaming.wire.listener import Listener
from tests.conftest import run
from tests.unit.test_import_layers import import_graph


def test_a_value_on_a_bound_falls_in_that_bucket_and_buckets_are_cumulative():
    histogram = Histogram([0.1, 1.0])
    for observed in (0.05, 0.1, 0.5, 1.0, 7.0):
        histogram.observe(observed)
    buckets, total = histogram.snapshot()
    assert buckets == [("0.1", 2), ("1.0", 4), ("+Inf", 5)]  # Prometheus' `le`: value <= bound
    assert total == pytest.approx(8.65) and histogram.count == 5


@pytest.mark.parametrize("bounds", [[], [1.0, 0.5], [0.5, 0.5]])
def test_histogram_bounds_must_be_ascending_and_distinct(bounds):
    with pytest.raises(ValueError, match="distinct and ascending"):
        Histogram(bounds)


def test_a_locked_histogram_counts_every_observation_from_many_threads():
    histogram = LockedHistogram(LAG_BUCKETS)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: [histogram.observe(0.001) for _ in range(1000)], range(8)))
    buckets, _ = histogram.snapshot()
    assert histogram.count == 8000 and buckets[-1] == ("+Inf", 8000)


def test_a_write_counts_its_frames_bytes_and_each_frames_lag_and_keeps_later_stamps():
    figures = StreamMetrics()
    figures.wrote(None, None, 20)  # a heartbeat or the opening: bytes and a write, no frame
    assert (figures.frames, figures.bytes, figures.writes, figures.lag.count) == (0, 20, 1, 0)
    stamps = [0.0, 0.0, 0.0]  # three frames queued at the clock's origin (a long time ago)
    figures.wrote(stamps, [b"a", b"b"], 2)  # the third was queued during the write: stays
    assert (figures.frames, figures.bytes, figures.writes) == (2, 22, 2)
    assert figures.lag.count == 2 and stamps == [0.0]
    assert figures.lag.snapshot()[0][-2][1] == 0, "lags since the clock's origin are above 10 s"
    figures.run_started()
    figures.run_ended("closed")
    assert figures.runs_started == 1 and figures.outcomes == {"done": 0, "closed": 1, "error": 0, "gone": 0}


def test_the_option_takes_a_bool_or_the_env(monkeypatch):
    monkeypatch.delenv("FLASH_METRICS", raising=False)
    assert metrics_option(None) is False and metrics_option(True) is True and metrics_option(False) is False
    for on in ("1", "true", "ON", " yes "):
        monkeypatch.setenv("FLASH_METRICS", on)
        assert metrics_option(None) is True
    monkeypatch.setenv("FLASH_METRICS", "0")
    assert metrics_option(None) is False and metrics_option(True) is True, "the argument wins"
    monkeypatch.setenv("FLASH_METRICS", "maybe")
    with pytest.raises(ValueError, match="FLASH_METRICS takes"):
        metrics_option(None)
    with pytest.raises(TypeError, match="metrics takes True, False or None"):
        metrics_option("yes")


def _app(**kwargs):
    app = Flash(__name__, **kwargs)
    app.layout = html.Div("x")
    return app


async def _get(app, path):
    response = await app.server.test_client().get(path)
    return response.status_code, await response.get_data(as_text=True)


def test_off_by_default_no_route_and_no_counting(monkeypatch):
    monkeypatch.delenv("FLASH_METRICS", raising=False)
    app = _app()
    assert app.stream_runs.metrics is None and Listener().stamps is None
    status, _ = run(_get(app, "/_flash/metrics"))
    assert status == 404


def test_on_by_argument_or_env_under_the_routes_prefix(monkeypatch):
    monkeypatch.delenv("FLASH_METRICS", raising=False)
    app = _app(metrics=True, routes_pathname_prefix="/app/", requests_pathname_prefix="/app/")
    status, text = run(_get(app, "/app/_flash/metrics"))
    assert status == 200 and "flash_stream_runs_live 0.0" in text
    assert run(_get(app, "/_flash/metrics"))[0] == 404
    monkeypatch.setenv("FLASH_METRICS", "1")
    assert isinstance(_app().stream_runs.metrics, StreamMetrics)
    assert _app(metrics=False).stream_runs.metrics is None


def _without(module: str, code: str) -> str:
    """Run `code` in a fresh interpreter where `import <module>` fails, as when it is not installed."""
    code = f"import sys; sys.modules[{module!r}] = None\nfrom flash import Flash\n" + code
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout


def test_without_prometheus_client_metrics_true_fails_naming_the_extra():
    out = _without(
        "prometheus_client",
        "Flash(__name__)  # off: fine without it\n"
        "try:\n    Flash(__name__, metrics=True)\n"
        "except ImportError as exc:\n    print('ERR', exc)\n",
    )
    assert "ERR Flash(metrics=True)" in out and "dash-flash[metrics]" in out


def test_without_opentelemetry_metrics_work_and_make_no_spans():
    out = _without("opentelemetry", "print('TRACER', Flash(__name__, metrics=True).stream_runs.metrics.tracer)\n")
    assert "TRACER None" in out
    assert isinstance(_app(metrics=True).stream_runs.metrics.tracer, RunTracer), "installed here: spans"


def test_each_pool_job_s_wait_for_a_thread_is_observed_once_metrics_are_on():
    histogram = pool_wait_histogram()
    before = histogram.count
    with ThreadPoolExecutor(1) as pool:  # a pool without a queue watch: still timed
        for _ in range(3):
            assert run(run_in_thread(pool, lambda: 7)) == 7
    assert histogram.count == before + 3


def test_flash_metrics_imports_no_higher_layer():
    graph = import_graph()
    mine = {module: targets for module, targets in graph.items() if module.startswith("flash.metrics")}
    assert mine, "the graph sees flash.metrics"
    for module, targets in mine.items():
        upward = [t for t in targets if t.startswith(("flash.streaming", "flash.app")) or t == "flash"]
        assert not upward, f"{module} imports {upward}"
