"""Screenshots of every gallery example, for the gallery's cards: examples/screenshots/<name>.png.

Starts the gallery (`python -m examples` on a free port), opens each example in headless Debian
Chromium (the one the tests use), plays a short scene so the shot shows the example at work
(Start clicked, rows streaming, a notification up), and saves an ~800x500 palette PNG. Last, the
index itself: examples/screenshots/gallery.png.

    python scripts/screenshots.py               # every example, then the index
    python scripts/screenshots.py grid_stream   # only these (and the index)
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flash.testing.browser import chrome_options, chromedriver_path  # noqa: E402

OUT = ROOT / "examples" / "screenshots"
VIEWPORT = (1280, 800)  # CSS pixels the page is laid out in
SIZE = (800, 500)  # the saved image
TIMEOUT = 60

# What to do on each page before the shot: ("click", css) | ("wait", js returning truthy).
ROWS = (
    "(window.dash_ag_grid && window.dash_ag_grid.getApi('grid') ? window.dash_ag_grid.getApi('grid').getDisplayedRowCount() : 0)"
)
POINTS = "(function(){var g=document.querySelector('#chart .js-plotly-plot');return g&&g.data?g.data[0].x.length:0;})()"
SCENES: dict[str, list[tuple[str, str]]] = {
    "grid_stream": [
        ("wait", "document.querySelector('#start')"),
        ("click", "#start"),
        ("wait", f"{ROWS} >= 2250"),
        ("wait", "document.querySelectorAll('.mantine-Notification-root').length >= 2"),
    ],
    "sql_stream": [("wait", "document.querySelector('#start')"), ("click", "#start"), ("wait", f"{ROWS} >= 1500")],
    "token_stream": [("click", "#ask"), ("wait", "document.getElementById('answer').textContent.length > 420")],
    "stock_ticker": [("wait", f"{POINTS} >= 60")],
    "websocket_chart": [("wait", "document.getElementById('state').textContent === 'open'"), ("wait", f"{POINTS} >= 50")],
    "lazy_dashboard": [("wait", "document.querySelector('#panel-north .js-plotly-plot')")],
    "live_channel": [
        ("wait", "/visitors online/.test(document.getElementById('visitors').textContent)"),
        ("wait", "document.getElementById('chat-status').textContent === 'live'"),
        ("type", "#message=Hello from the screenshot script!"),
        ("click", "#send"),
        ("wait", "document.querySelectorAll('#chat-log li').length >= 1"),
    ],
    "async_gather": [
        ("click", "#sync-button"),
        ("click", "#async-button"),
        ("wait", "/took/.test(document.getElementById('sync-result').textContent)"),
    ],
    "stream_table": [("click", "#start"), ("wait", f"{ROWS} >= 1500")],
    "pages_app": [("click", "#link-paris"), ("wait", "document.getElementById('units')")],
    "mcp_agent": [("click", "#scan"), ("wait", "document.querySelectorAll('#readings li').length >= 3")],
    "basic": [("wait", "document.getElementById('my-output').textContent.length > 0")],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as response:
        return response.read().decode()


def wait(predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - not up yet
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


def example_links(node: Any):
    """(module, url) of every card link in the index's layout JSON (ids "link-<module>")."""
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and str(props.get("id", "")).startswith("link-") and props.get("href"):
            yield props["id"][len("link-") :], props["href"]
        for value in node.values():
            yield from example_links(value)
    elif isinstance(node, list):
        for value in node:
            yield from example_links(value)


def browser() -> webdriver.Chrome:
    options = chrome_options()
    options.add_argument("--headless=new")
    options.add_argument("--hide-scrollbars")
    driver = webdriver.Chrome(service=Service(chromedriver_path()), options=options)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": VIEWPORT[0], "height": VIEWPORT[1], "deviceScaleFactor": 1, "mobile": False},
    )
    return driver


def play(driver: webdriver.Chrome, steps: list[tuple[str, str]]) -> None:
    for kind, arg in steps:
        if kind == "click":
            wait(lambda: driver.find_element(By.CSS_SELECTOR, arg).is_enabled(), arg)
            driver.find_element(By.CSS_SELECTOR, arg).click()
        elif kind == "type":
            selector, text = arg.split("=", 1)
            box = wait(lambda: driver.find_element(By.CSS_SELECTOR, selector), selector)
            box.send_keys(text)
        else:
            wait(lambda: driver.execute_script(f"return {arg};"), arg)


def save(driver: webdriver.Chrome, path: Path) -> None:
    time.sleep(0.6)  # let transitions (a notification sliding in) end: a picture, not a test
    shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    shot = shot.resize(SIZE, Image.Resampling.LANCZOS)
    shot.quantize(colors=192, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
    print(f"  {path.relative_to(ROOT)}  {path.stat().st_size // 1024} KB")


def main(only: list[str]) -> None:
    OUT.mkdir(exist_ok=True)
    port = free_port()
    env = {**os.environ, "FLASH_GALLERY_PORT": str(port), "PYTHONPATH": str(ROOT)}
    gallery = subprocess.Popen([sys.executable, "-m", "examples"], cwd=ROOT, env=env)
    driver = None
    try:
        index = f"http://127.0.0.1:{port}/"
        layout = wait(lambda: http_get(index + "_dash-layout"), "the gallery index")
        urls = dict(example_links(json.loads(layout)))
        driver = browser()
        for module, steps in SCENES.items():
            if (only and module not in only) or module not in urls:
                continue
            wait(lambda: http_get(urls[module] + "_dash-layout"), f"{module} to serve")
            driver.get(urls[module])
            play(driver, steps)
            save(driver, OUT / f"{module}.png")
        driver.get(index)
        wait(lambda: len(driver.find_elements(By.CSS_SELECTOR, ".example-card")) == len(urls), "the cards")
        wait(
            lambda: driver.execute_script("return Array.from(document.images).every(function (i) { return i.complete; });"),
            "the images",
        )
        save(driver, OUT / "gallery.png")
    finally:
        if driver is not None:
            driver.quit()
        gallery.terminate()
        gallery.wait(timeout=20)


if __name__ == "__main__":
    main(sys.argv[1:])
