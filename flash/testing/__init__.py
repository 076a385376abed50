"""Testing helpers for Flash apps: runners, the browser composite and the pytest plugin.

The pytest plugin (the top-level `flash_pytest` module) loads automatically once `dash-flash` is
installed and provides `flash_duo`, `flash_duo_mp`, `flash_thread_server` and `flash_server`;
these modules need Dash's testing extras (`pip install 'dash-flash[test]'`).
"""
from .browser import CHROMIUM_FLAGS, FlashComposite, chrome_options
from .runner import FlashRunner, FlashServerError, FlashThreadedRunner
from .wait import http_answers, wait_for

__all__ = [
    "CHROMIUM_FLAGS",
    "FlashComposite",
    "FlashRunner",
    "FlashServerError",
    "FlashThreadedRunner",
    "chrome_options",
    "http_answers",
    "wait_for",
]
