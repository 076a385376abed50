"""The README's first command serves the gallery: an index linking to every example, each live."""

import json
import re
import socket
import sys
from pathlib import Path

from examples.__main__ import EXAMPLES
from flash.testing import wait_for
from tests.integration.conftest import free_port, http_get

ROOT = Path(__file__).resolve().parents[2]


def test_gallery_serves_the_index_and_every_example(app_process):
    port = free_port()
    # Something else already listens on the first example's default port (in CI an unrelated
    # socket once held it): the gallery must link that example to a port it really serves.
    with socket.socket() as squatter:
        try:
            squatter.bind(("127.0.0.1", port + 1))
            squatter.listen(1)
        except OSError:
            pass  # already held by another socket: the situation this test sets up anyway
        gallery = app_process(
            [sys.executable, "-m", "examples"],
            env={"PYTHONPATH": str(ROOT), "FLASH_GALLERY_PORT": str(port)},
            port=port,
        )
        layout = gallery.wait_until("/_dash-layout", lambda status, body: status == 200, timeout=60)
        links = re.findall(r'"href":"(http://127\.0\.0\.1:(\d+)/)"', _unescape(layout))
        assert len(links) == len(EXAMPLES), "every example is listed"
        assert str(port + 1) not in [p for _, p in links], "the taken port is not linked"
        for link, _ in links:
            wait_for(
                lambda: _answers(link),
                timeout=60,
                interval=0.3,
                msg=f"example at {link}; gallery output:\n{gallery.output()[-3000:]}",
            )
            status, index = http_get(link)
            assert status == 200 and "_dash-config" in index


def _answers(url):
    try:
        return http_get(url + "_dash-layout", timeout=2)[0] == 200
    except OSError:
        return False


def _unescape(text):
    """The layout JSON escapes '/' as \\u002f; compare against the decoded form."""
    return json.dumps(json.loads(text), separators=(",", ":"))
