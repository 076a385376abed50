"""A kept browser (`flash_reuse_browser`, flash.testing.reuse) shows the next test nothing of the
last one: what a test leaves behind in Chromium is gone after `reset`, on the same origin too (a
later test may be served on a port an earlier one used)."""

from __future__ import annotations

import pytest

from flash import Flash, html
from flash.testing import FlashComposite
from flash.testing.reuse import Kept, reset, reuse_key

LEFTOVERS = """
document.cookie = "left=1; path=/";
localStorage.setItem("left", "1");
sessionStorage.setItem("left", "1");
console.error("left over");
"""
READ = """
return {cookie: document.cookie, local: localStorage.getItem("left"),
        session: sessionStorage.getItem("left"), injected: window.__leftover === true};
"""


def _app() -> Flash:
    app = Flash(__name__)
    app.layout = html.Div("page", id="page")
    return app


@pytest.mark.browser
def test_reset_leaves_one_fresh_tab_and_no_state_of_the_last_test(flash_duo: FlashComposite) -> None:
    flash_duo.start_server(_app())
    driver = flash_duo.driver
    kept = Kept(driver, "test")
    url = flash_duo.server_url
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": "window.__leftover = true;"})
    driver.refresh()
    flash_duo.wait_for_text_to_equal("#page", "page")
    driver.execute_script(LEFTOVERS)
    assert driver.execute_script(READ) == {"cookie": "left=1", "local": "1", "session": "1", "injected": True}
    driver.switch_to.new_window("tab")
    driver.get(url)
    driver.set_window_size(800, 600)

    reset(driver, kept.rect)

    assert len(driver.window_handles) == 1
    assert driver.get_window_rect() == kept.rect
    assert driver.get_log("browser") == []  # the console error was drained with the old tabs
    driver.get(url)  # the same origin again
    flash_duo.wait_for_text_to_equal("#page", "page")
    assert driver.execute_script(READ) == {"cookie": "", "local": None, "session": None, "injected": False}


def test_only_a_local_chrome_is_kept() -> None:
    local = {"browser": "Chrome", "remote": False, "headless": True, "options": [], "download_path": "/a"}
    assert reuse_key(local) == reuse_key({**local, "download_path": "/b"})  # a test's own download folder
    assert reuse_key(local) != reuse_key({**local, "headless": False})
    assert reuse_key({**local, "remote": True}) is None
    assert reuse_key({**local, "browser": "Firefox"}) is None
