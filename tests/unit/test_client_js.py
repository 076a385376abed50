"""The browser client's unit tests (tests/js/*.test.js) under Node's own test runner.

They load the hand-written client files as the page does, with a stubbed wire, so logic that
Chromium only reaches in rare moments (a page closing hundreds of runs) is checked directly."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

JS_TESTS = Path(__file__).resolve().parent.parent / "js"


def test_the_client_js_unit_tests_pass_under_node():
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "Node.js is needed for the client's unit tests (scripts/test installs Debian's nodejs)"
    files = sorted(str(p) for p in JS_TESTS.glob("*.test.js"))
    assert files, "no client unit tests found"
    result = subprocess.run([node, "--test", *files], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout, result.stdout
