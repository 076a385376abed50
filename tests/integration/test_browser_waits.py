"""`flash_duo`'s waits check the page every 0.2 s (flash.compat.dash_testing.QuickBrowserWaits), with or
without a timeout of their own, and still time out after that timeout; Dash's own `Browser`
keeps selenium's 0.5 s (a plain Dash project's `dash_duo` is left as it is)."""

from __future__ import annotations

from typing import Any

import pytest
from dash.testing.browser import Browser
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.support import wait as selenium_wait

from flash.compat.dash_testing import QuickBrowserWaits
from flash.testing import FlashComposite
from tests.integration.test_plugin_isolation import _flash_counter  # a button and its output


@pytest.fixture
def polls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """(timeout, poll_frequency) of every WebDriverWait made while the test runs."""
    made: list[tuple[float, float]] = []
    real_init = selenium_wait.WebDriverWait.__init__

    def recording_init(
        self: Any, driver: Any, timeout: float, poll_frequency: float = selenium_wait.POLL_FREQUENCY, **kw: Any
    ) -> None:
        made.append((timeout, poll_frequency))
        real_init(self, driver, timeout, poll_frequency=poll_frequency, **kw)

    monkeypatch.setattr(selenium_wait.WebDriverWait, "__init__", recording_init)
    return made


@pytest.mark.browser
def test_flash_duo_waits_poll_every_0_2_s_and_keep_their_timeouts(
    flash_duo: FlashComposite, polls: list[tuple[float, float]]
) -> None:
    flash_duo.start_server(_flash_counter())
    flash_duo.wait_for_text_to_equal("#out", "idle")
    flash_duo.find_element("#btn").click()
    flash_duo.wait_for_text_to_equal("#out", "clicked 1", timeout=7)
    with pytest.raises(TimeoutException):
        flash_duo.wait_for_text_to_equal("#out", "never", timeout=0.3)
    assert polls, "the waits went through selenium's WebDriverWait"
    assert {poll for _, poll in polls} == {QuickBrowserWaits.WAIT_POLL}
    timeouts = [timeout for timeout, _ in polls]
    assert flash_duo.wait_timeout in timeouts and 7 in timeouts and 0.3 in timeouts
    assert flash_duo._wait_up_to is None, "a wait's own timeout ends with it"


def test_dash_own_browser_is_left_with_seleniums_poll() -> None:
    assert not issubclass(Browser, QuickBrowserWaits)
    assert Browser._wait_for is not QuickBrowserWaits._wait_for
