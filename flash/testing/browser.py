"""Headless Debian Chromium for Dash's selenium helpers, and the Flash browser composite."""

from __future__ import annotations

import logging
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from dash.testing.composite import DashComposite
from dash.testing.consts import SELENIUM_GRID_DEFAULT
from selenium.webdriver.chrome.options import Options as ChromeOptions

from ..compat.dash_testing import QuickBrowserWaits
from .reuse import BrowserKeeper, Kept
from .wait import wait_for

logger = logging.getLogger(__name__)
T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# Root in a container: no sandbox, no GPU, small /dev/shm; and nothing that phones home.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--window-size=1280,1024",
)


def chromium_path() -> str | None:
    """Chromium binary: $DASH_TEST_CHROMEPATH, else Debian's, else let selenium decide."""
    path = os.environ.get("DASH_TEST_CHROMEPATH") or CHROMIUM
    return path if os.path.exists(path) else None


def chromedriver_path() -> str | None:
    """chromedriver matching Debian's Chromium: $FLASH_TEST_CHROMEDRIVER or /usr/bin's."""
    path = os.environ.get("FLASH_TEST_CHROMEDRIVER") or CHROMEDRIVER
    return path if os.path.exists(path) else shutil.which("chromedriver")


@contextmanager
def system_chromedriver() -> Iterator[None]:
    """Debian's chromedriver first on PATH while a Flash fixture starts its browser (selenium 4.2
    looks there, never downloads); PATH is restored after, so nothing else sees the change."""
    driver = chromedriver_path()
    saved = os.environ.get("PATH")
    if driver and shutil.which("chromedriver") != driver:
        os.environ["PATH"] = os.path.dirname(driver) + os.pathsep + (saved or "")
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = saved


def force_headless() -> bool:
    """No display to draw on (or running in CI): the browser must be headless."""
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return ci or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def chrome_options() -> ChromeOptions:
    """ChromeOptions for Debian Chromium; Dash's `_get_chrome` adds its own flags on top."""
    options = ChromeOptions()
    binary = chromium_path()
    if binary:
        options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    return options


def browser_options(config: Any) -> list[Any]:
    """Options for a Flash fixture's browser: the project's `pytest_setup_options` hooks (Dash's
    hook, as its own fixtures use them) if any answer, else Debian Chromium's (`chrome_options`).
    Flash implements no such hook itself, so Dash's fixtures keep their own defaults."""
    hook = getattr(config.hook, "pytest_setup_options", None)  # declared by dash[testing]
    answers = [option for option in (hook() if hook is not None else []) if option is not None]
    if answers:
        return answers
    if str(config.getoption("webdriver", "Chrome")).lower() != "chrome":
        return []
    return [chrome_options()]


def browser_kwargs(config: Any, download_path: Path) -> dict[str, Any]:
    """Keyword arguments for `dash.testing.browser.Browser`, from Dash's CLI options if loaded.
    No display (or CI set) means headless here, for this browser only: Dash's `--headless`
    option itself is left as given."""

    def opt(name: str, default: Any) -> Any:
        return config.getoption(name, default)

    return {
        "browser": opt("webdriver", "Chrome"),
        "remote": opt("remote", False),
        "remote_url": opt("remote_url", SELENIUM_GRID_DEFAULT),
        "headless": bool(opt("headless", False)) or force_headless(),
        "options": browser_options(config),
        "download_path": str(download_path),
        "percy_assets_root": opt("percy_assets", "tests/assets"),
        "percy_finalize": opt("nopercyfinalize", True),
        "pause": opt("pause", False),
    }


# Records what the page's stream client receives from its hub (docs/testing-streams.md): run
# as the page is created (Chromium's `Page.addScriptToEvaluateOnNewDocument`), before Flash's
# client sets its port's `onmessage`, it wraps that setter and `postMessage` (a start names the
# stream's URL) on `MessagePort.prototype`. Flash's client code is not touched.
FRAME_RECORDER = r"""
(function () {
    if (window.__flashFrameLog) { return; }
    var record = window.__flashFrameLog = {frames: [], streams: {}};
    var proto = MessagePort.prototype;
    var handler = Object.getOwnPropertyDescriptor(proto, "onmessage");
    var post = proto.postMessage;
    proto.postMessage = function (msg) {
        if (msg && msg.t === "start" && typeof msg.url === "string") {
            record.streams[msg.ref] = msg.url.split("/").pop();
        }
        return post.apply(this, arguments);
    };
    Object.defineProperty(proto, "onmessage", {
        configurable: true, enumerable: handler.enumerable, get: handler.get,
        set: function (fn) {
            var wrapped = typeof fn !== "function" ? fn : function (e) {
                var msg = e.data;
                if (msg && msg.t === "event") {
                    record.frames.push({stream: record.streams[msg.ref] || null, run: msg.ref,
                                        event: msg.type, data: msg.data});
                }
                return fn.apply(this, arguments);
            };
            handler.set.call(this, wrapped);
        }
    });
}());
"""


def _stream_id(stream: Any) -> str | None:
    """A stream named by its decorated function (`.stream_id`) or its id; None: every stream."""
    return stream if stream is None or isinstance(stream, str) else str(stream.stream_id)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:150]


class FlashComposite(QuickBrowserWaits, DashComposite):
    """`DashComposite` (all of Dash's browser helpers) bound to a Flash runner; its `wait_for_*`
    check every 0.2 s (`QuickBrowserWaits`; Dash's own `dash_duo` keeps selenium's 0.5 s).

    `driver`: a running webdriver to drive instead of starting one (a kept browser, see
    `flash.testing.reuse`); `keep_with` hands it back to its keeper on exit instead of quitting it,
    unless `reusable` was set to False (the plugin does when the test failed)."""

    def __init__(
        self, server: Any, *, artifacts_dir: str | os.PathLike[str] | None = None, driver: Any = None, **kwargs: Any
    ) -> None:
        self._given_driver = driver
        self._keeper: tuple[BrowserKeeper, Kept] | None = None
        self.reusable = True
        super().__init__(server, **kwargs)
        self.artifacts_dir = Path(artifacts_dir or "test-artifacts")
        self._snapshots: set[str] = set()

    def get_webdriver(self) -> Any:
        """The driver given to `__init__`, else a new one (Dash's `Browser` calls this once)."""
        given, self._given_driver = self._given_driver, None
        return given if given is not None else super().get_webdriver()

    def keep_with(self, keeper: BrowserKeeper, kept: Kept) -> None:
        """On exit, give the driver back to `keeper` (which resets or quits it) instead of quitting."""
        self._keeper = (keeper, kept)

    def __exit__(self, exc_type: Any, exc_val: Any, traceback: Any) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is None:
            super().__exit__(exc_type, exc_val, traceback)
            return
        keeper[0].give_back(keeper[1], reusable=self.reusable and exc_type is None)

    def start_server(self, app: Any, navigate: bool = True, **kwargs: Any) -> None:
        """Serve `app` (see `FlashRunner.start` for kwargs) and, by default, open it."""
        super().start_server(app, navigate=navigate, **kwargs)

    def url_for(self, path: str = "/") -> str:
        """Absolute URL of `path` on the running app (for `requests`/`httpx` checks)."""
        url: str = self.server.url_for(path)
        return url

    def wait_for(self, predicate: Callable[[], T], timeout: float | None = None, msg: str = "") -> T:
        """Poll `predicate` (default timeout: the browser's `wait_timeout`)."""
        return wait_for(predicate, timeout=timeout or self.wait_timeout, msg=msg)

    def record_frames(self) -> None:
        """Record every stream frame the page receives from now on, for `stream_frames` and
        `wait_for_frame`. Call it before `start_server` (a page already open is reloaded).
        Chromium only (it installs a script through the DevTools protocol)."""
        execute_cdp = getattr(self.driver, "execute_cdp_cmd", None)
        if execute_cdp is None:
            raise RuntimeError("record_frames needs a Chromium driver (the DevTools protocol).")
        execute_cdp("Page.addScriptToEvaluateOnNewDocument", {"source": FRAME_RECORDER})
        if str(self.driver.current_url).startswith("http"):
            self.driver.refresh()

    def stream_frames(self, stream: Any = None) -> list[dict[str, Any]]:
        """The frames the page received, in order: `{"stream", "run", "event", "data"}` each
        (`run` is the page's name for the run: a restarted stream has a new one). `stream`:
        the decorated function or its `stream_id`; None for every stream."""
        frames: list[dict[str, Any]] | None = self.driver.execute_script(
            "return window.__flashFrameLog ? window.__flashFrameLog.frames : null;"
        )
        if frames is None:
            raise RuntimeError("No frames recorded: call record_frames() before start_server().")
        wanted = _stream_id(stream)
        return [frame for frame in frames if wanted is None or frame["stream"] == wanted]

    def wait_for_frame(self, n: int, stream: Any = None, timeout: float | None = None) -> dict[str, Any]:
        """Wait until the page has received the `n`-th frame (from 1) of `stream` (every stream's
        if None) and return it. Received is not yet rendered: the page applies a frame's props
        in its next animation frame, so assert on the DOM with `wait_for_text_to_equal` etc."""
        if n < 1:
            raise ValueError("Frames count from 1.")

        def nth() -> list[dict[str, Any]]:
            return self.stream_frames(stream)[n - 1 : n]

        return self.wait_for(nth, timeout, msg=f"frame {n} of stream {_stream_id(stream) or '(any)'}")[0]

    def take_snapshot(self, name: str) -> None:
        """Save a screenshot and the page HTML into `test-artifacts/` (once per test)."""
        if name in self._snapshots:
            return
        self._snapshots.add(name)
        try:
            self.artifacts_dir.mkdir(parents=True, exist_ok=True)
            stem = self.artifacts_dir / _safe_name(name)
            self.driver.save_screenshot(f"{stem}.png")
            Path(f"{stem}.html").write_text(self.driver.page_source, encoding="utf-8")
            logger.warning("saved failure artifacts %s.png/.html", stem)
        except Exception:
            logger.exception("could not save failure artifacts for %s", name)
