"""Dash's testing `Browser`, as Flash's browser fixtures use it (the test extra's; the private
name it relies on is in `compat.dash.NEEDED`, checked by tests/unit/test_compat.py)."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.support.wait import WebDriverWait


class QuickBrowserWaits:
    """Mixin for a subclass of Dash's testing `Browser` (`flash_duo`; `dash_duo` is left as it is):
    its waits check every `WAIT_POLL` seconds (0.2) instead of selenium's 0.5 s.

    Every `wait_for_*` of Dash's `Browser` goes through `Browser._wait_for(method, timeout, msg)`,
    which waits with `self._wd_wait` (made from `wait_timeout`) or, given a timeout, with a fresh
    `WebDriverWait` at selenium's default poll. Here `_wd_wait` is made on each read, from the
    timeout of the wait in progress, and `_wait_for` hands Dash its timeout that way: an element that
    shows up 50 ms after a click is seen within 0.2 s, not up to half a second later. Not faster:
    each check is a WebDriver round trip through chromedriver into the page, and at 50 ms those
    cost Flash's own CPU-bound suite more time than the shorter waits saved (main run 8:39 -> 9:35)."""

    WAIT_POLL = 0.2
    _wait_up_to: float | None = None

    @property
    def _wd_wait(self) -> Any:
        timeout = self._wait_up_to if self._wait_up_to is not None else self.wait_timeout  # type: ignore[attr-defined]
        return WebDriverWait(self.driver, timeout, poll_frequency=self.WAIT_POLL)  # type: ignore[attr-defined]

    @_wd_wait.setter
    def _wd_wait(self, _made_by_dash: Any) -> None:
        """Dash sets it from `wait_timeout`, which the getter reads itself."""

    def _wait_for(self, method: Any, timeout: float | None, msg: Any) -> Any:
        self._wait_up_to = timeout
        try:
            return super()._wait_for(method, None, msg)  # type: ignore[misc]
        finally:
            self._wait_up_to = None
