"""What the `flash_*` pytest fixtures (declared in the `flash_pytest` plugin) build.

Imported only when a test asks for one of them: it needs Dash's testing extras (selenium,
percy, psutil, ...), which a project that installs `dash-flash` without `[test]` does not have.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from .browser import FlashComposite, browser_kwargs, system_chromedriver
from .reuse import KEEPER, Kept, quit_driver, reuse_key
from .runner import FlashRunner, FlashThreadedRunner
from .streams import StreamClient

__all__ = ["FlashRunner", "FlashThreadedRunner", "StreamClient", "open_browser"]


def open_browser(config: Any, runner: Any, tmp_path: Path, *, reuse: bool = False) -> FlashComposite:
    """A `FlashComposite` on `runner` (its driver already started); use it as a context manager.

    Every setting that the plugin used to make for the whole session is made here, for this
    browser only: Debian's chromedriver on PATH while the driver starts, headless without a
    display, and the warning filter below for the rest of this test. `reuse`: take a kept browser
    of this process if one matches, and give it back on exit (`flash.testing.reuse`).
    """
    # selenium 4.2 (pinned by dash[testing]) trips urllib3 2.x deprecations on every command.
    # pytest restores the warning filters after each test.
    warnings.filterwarnings("ignore", "HTTPResponse.getheader", DeprecationWarning, "selenium")
    download = tmp_path / "download"
    download.mkdir(exist_ok=True)
    artifacts = Path(config.rootpath) / "test-artifacts"
    kwargs = browser_kwargs(config, download)
    key = reuse_key(kwargs) if reuse else None
    kept = KEEPER.take(key) if key is not None else None
    try:
        if kept is not None and kwargs["headless"]:
            # What Dash's `_get_chrome` does for a browser it starts: downloads go to this test's folder.
            kept.driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(download)})
        with system_chromedriver():
            browser = FlashComposite(runner, artifacts_dir=artifacts, driver=kept.driver if kept else None, **kwargs)
    except BaseException:
        if kept is not None:
            quit_driver(kept.driver)
        raise
    if key is not None:
        browser.keep_with(KEEPER, kept or Kept(browser.driver, key))
    return browser
