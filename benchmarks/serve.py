"""App factories for the servers: `hypercorn 'benchmarks.serve:flash()'`, `uvicorn --factory ...`.

Factories rather than module attributes, so a server process only ever builds the one app it
serves: no other framework's registries or memory end up in its RSS.
"""
from __future__ import annotations

from typing import Any, Callable

from . import apps


def flash() -> Any:
    from flash import Flash

    return apps.build_app(Flash, stream_heartbeat=1).server


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


FACTORIES: dict[str, Callable[[], Any]] = {"flash": flash, "flash_cluster": flash_cluster, "dash_quart": dash_quart,
                                           "dash_flask": dash_flask, "raw": raw,
                                           "dash45": dash45, "dash45_frames": dash45_frames, "w11_flash": w11_flash,
                                           "w11_dash_quart": w11_dash_quart, "w11_raw": w11_raw}


def make(name: str) -> Any:
    """The ASGI (or, for dash_flask, WSGI) callable for app `name`, built fresh."""
    return FACTORIES[name]()
