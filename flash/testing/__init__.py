"""Testing helpers for Flash apps: runners, the browser composite and the pytest plugin.

The pytest plugin (`flash.testing.plugin`) loads automatically once `dash-flash` is installed
and provides `dash_duo`, `dash_duo_mp`, `flash_server` and friends.
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
