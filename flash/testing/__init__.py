"""Testing helpers for Flash apps: runners, the browser composite, the stream harness and the
pytest plugin.

The pytest plugin (the top-level `flash_pytest` module) loads automatically once `dash-flash` is
installed and provides `flash_duo`, `flash_duo_mp`, `flash_thread_server`, `flash_server` and
`flash_stream_client`. The browser and runner helpers need Dash's testing extras (`pip install
'dash-flash[test]'`); names are imported on first use, so the stream harness
(`StreamClient`, `Frame`, `Frames`) works without them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .browser import CHROMIUM_FLAGS, FlashComposite, chrome_options
    from .runner import FlashRunner, FlashServerError, FlashThreadedRunner
    from .stream_frames import Frame, Frames
    from .streams import StreamClient
    from .wait import http_answers, wait_for

_WHERE = {
    "CHROMIUM_FLAGS": "browser",
    "FlashComposite": "browser",
    "chrome_options": "browser",
    "FlashRunner": "runner",
    "FlashServerError": "runner",
    "FlashThreadedRunner": "runner",
    "Frame": "stream_frames",
    "Frames": "stream_frames",
    "StreamClient": "streams",
    "http_answers": "wait",
    "wait_for": "wait",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'flash.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "CHROMIUM_FLAGS",
    "FlashComposite",
    "FlashRunner",
    "FlashServerError",
    "FlashThreadedRunner",
    "Frame",
    "Frames",
    "StreamClient",
    "chrome_options",
    "http_answers",
    "wait_for",
]
assert sorted(__all__) == sorted(_WHERE)
