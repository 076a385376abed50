"""One Chromium per pytest process, handed from browser test to browser test (opt-in).

Why: starting Chromium and chromedriver is most of a short browser test's time on a small CI
machine. With the ini option `flash_reuse_browser = true` (or `--flash-reuse-browser`), the
`flash_duo` / `flash_duo_mp` fixtures take a kept browser instead of starting one, and give it
back afterwards. What a test sees of the one before is wiped first (`reset`): the browser gets a
new tab (no injected scripts, no emulation, its own history) and every other tab is closed;
cookies and the HTTP cache are cleared, and so is the storage (local, session, IndexedDB, ...) of
every origin the previous test visited; the console log is drained and the window put back to its
size. A browser whose test failed, that cannot be reset, or that served `MAX_USES` tests is quit
instead, so the next test starts a new one. Off by default: `flash_duo` then behaves as Dash's
`dash_duo` does (a browser per test).
"""

from __future__ import annotations

import atexit
import json
import logging
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

# A browser serves at most this many tests, then a new one starts (bounds what Chromium accumulates).
MAX_USES = 40


def reuse_key(kwargs: dict[str, Any]) -> str | None:
    """What a kept browser must match to serve a test: its `Browser` kwargs less the download
    folder (set per test). None: not reusable (only a local Chrome/Chromium is)."""
    if str(kwargs.get("browser", "")).lower() != "chrome" or kwargs.get("remote"):
        return None
    options = [
        option.to_capabilities() if hasattr(option, "to_capabilities") else repr(option) for option in kwargs.get("options") or []
    ]
    wanted = {key: value for key, value in kwargs.items() if key not in ("download_path", "options")}
    return json.dumps([wanted, options], sort_keys=True, default=repr)


def _origins(driver: Any) -> set[str]:
    """The http(s) origins every open tab has visited (their history), whose storage `reset` clears."""
    urls: set[str] = set()
    for handle in driver.window_handles:
        driver.switch_to.window(handle)
        history = driver.execute_cdp_cmd("Page.getNavigationHistory", {})
        urls.update(str(entry.get("url", "")) for entry in history.get("entries", []))
        urls.add(str(driver.current_url))
    origins = set()
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname:
            origins.add(f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}")
    return origins


def reset(driver: Any, rect: dict[str, int]) -> None:
    """Leave `driver` as a new browser would be for the next test (see the module docstring)."""
    origins = _origins(driver)
    old = list(driver.window_handles)
    driver.switch_to.new_window("tab")
    fresh = driver.current_window_handle
    for handle in old:
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(fresh)
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    for origin in sorted(origins):
        driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"})
    driver.get_log("browser")  # drained: Dash's `get_logs` reads this test's entries only
    if driver.get_window_rect() != rect:
        driver.set_window_rect(**rect)


class Kept:
    """A browser between tests: its driver, window size, key and how many tests it served."""

    def __init__(self, driver: Any, key: str) -> None:
        self.driver = driver
        self.key = key
        self.uses = 0
        self.rect: dict[str, int] = driver.get_window_rect()


class BrowserKeeper:
    """The idle browsers of this process (one per pytest-xdist worker), quit at the session's end."""

    def __init__(self) -> None:
        self._idle: list[Kept] = []

    def take(self, key: str) -> Kept | None:
        """An idle browser for `key` that still answers, or None (start a new one)."""
        while self._idle:
            kept = self._idle.pop()
            if kept.key == key:
                try:
                    kept.driver.window_handles  # noqa: B018  # does it still answer?
                    return kept
                except Exception:
                    logger.warning("a kept browser stopped answering; starting a new one")
            quit_driver(kept.driver)
        return None

    def give_back(self, kept: Kept, *, reusable: bool) -> None:
        """Keep `kept` for the next test if it may and can be reset; else quit it."""
        kept.uses += 1
        if reusable and kept.uses < MAX_USES:
            try:
                reset(kept.driver, kept.rect)
            except Exception:
                logger.warning("could not reset a browser for reuse; quitting it", exc_info=True)
            else:
                self._idle.append(kept)
                return
        quit_driver(kept.driver)

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for kept in idle:
            quit_driver(kept.driver)


def quit_driver(driver: Any) -> None:
    try:
        driver.quit()
    except Exception:
        logger.warning("webdriver quit was not successful", exc_info=True)


KEEPER = BrowserKeeper()
atexit.register(KEEPER.close)
