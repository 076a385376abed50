"""What the `flash_*` pytest fixtures (declared in the `flash_pytest` plugin) build.

Imported only when a test asks for one of them: it needs Dash's testing extras (selenium,
percy, psutil, ...), which a project that installs `dash-flash` without `[test]` does not have.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from .browser import FlashComposite, browser_kwargs, system_chromedriver
from .runner import FlashRunner, FlashThreadedRunner
from .streams import StreamClient

__all__ = ["FlashRunner", "FlashThreadedRunner", "StreamClient", "open_browser"]


def open_browser(config: Any, runner: Any, tmp_path: Path) -> FlashComposite:
    """A `FlashComposite` on `runner` (its driver already started); use it as a context manager.

    Every setting that the plugin used to make for the whole session is made here, for this
    browser only: Debian's chromedriver on PATH while the driver starts, headless without a
    display, and the warning filter below for the rest of this test.
    """
    # selenium 4.2 (pinned by dash[testing]) trips urllib3 2.x deprecations on every command.
    # pytest restores the warning filters after each test.
    warnings.filterwarnings("ignore", "HTTPResponse.getheader", DeprecationWarning, "selenium")
    download = tmp_path / "download"
    download.mkdir(exist_ok=True)
    artifacts = Path(config.rootpath) / "test-artifacts"
    with system_chromedriver():
        return FlashComposite(runner, artifacts_dir=artifacts, **browser_kwargs(config, download))
