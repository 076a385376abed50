"""Every complete example in the README (and in the docs it links to) runs as written.

A complete example is a ```python block preceded by an `<!-- example: name -->` line. Each is
saved, unchanged, as `app.py` in an empty directory and started the two ways the README says:
`python app.py` and an ASGI server on `app:server`, each in its own process, and must serve its
page, layout and callbacks. The README's basic app is also served by each server the README
names (`hypercorn`, `uvicorn`, `gunicorn -k asgi`). test_readme.py drives some of them in
Chromium; this file catches the example that cannot even start (an undefined name, a missing
`server`, a wrong import).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Callable

import pytest

from tests.integration.conftest import AppProcess

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MARKER = re.compile(r"<!-- example: ([\w-]+) -->\n```python\n(.*?)```", re.S)
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def examples() -> dict[str, str]:
    found: dict[str, str] = {}
    for doc in DOCS:
        for name, code in MARKER.findall(doc.read_text()):
            key = f"{doc.stem}:{name}"
            assert key not in found, f"two examples named {key}"
            found[key] = code
    return found


EXAMPLES = examples()
SERVERS = {  # "{port}": the free port app_process picks (and puts in $PORT, which app.run() reads, as in Dash)
    "python app.py": [sys.executable, "app.py"],
    "hypercorn app:server": [str(BIN / "hypercorn"), "app:server", "--bind", "127.0.0.1:{port}"],
    "uvicorn app:server": [str(BIN / "uvicorn"), "app:server", "--host", "127.0.0.1", "--port", "{port}"],
    "gunicorn -k asgi app:server": [str(BIN / "gunicorn"), "-k", "asgi", "-b", "127.0.0.1:{port}", "app:server"],
}

GREET = json.dumps(
    {
        "output": "greeting.children",
        "outputs": {"id": "greeting", "property": "children"},
        "inputs": [{"id": "name", "property": "value", "value": "world"}],
        "changedPropIds": ["name.value"],
    }
).encode()


def test_the_readme_marks_its_complete_examples() -> None:
    """Every README block that builds an app is marked, so none escapes the test below."""
    readme = (ROOT / "README.md").read_text()
    for block in re.findall(r"(.{0,40})```python\n(.*?)```", readme, re.S):
        if "Flash(__name__" in block[1]:
            assert "<!-- example:" in block[0], block[1][:200]
    assert {"README:basic", "README:stream"} <= set(EXAMPLES), sorted(EXAMPLES)
    assert "streaming:dash45-stream" in EXAMPLES and "shared-storage:shared-storage" in EXAMPLES


def _serves(server: AppProcess) -> None:
    server.wait_until("/", lambda status, body: status == 200 and "react-entry-point" in body, timeout=60)
    status, layout = server.get("/_dash-layout")
    assert status == 200 and json.loads(layout), layout[:500]
    status, deps = server.get("/_dash-dependencies")
    assert status == 200 and json.loads(deps), deps[:500]
    output = server.output()
    assert "Traceback" not in output, output[-3000:]


@pytest.mark.parametrize("command", ["python app.py", "hypercorn app:server"])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_example_serves_as_written(app_process: Callable[..., AppProcess], tmp_path: Path, name: str, command: str) -> None:
    (tmp_path / "app.py").write_text(EXAMPLES[name])
    _serves(app_process(SERVERS[command]))


@pytest.mark.parametrize("command", ["uvicorn app:server", "gunicorn -k asgi app:server"])
def test_the_basic_app_serves_under_every_server_the_readme_names(
    app_process: Callable[..., AppProcess], tmp_path: Path, command: str
) -> None:
    readme = (ROOT / "README.md").read_text()
    assert command.split(" app:server")[0] in readme and "app:server" in readme
    (tmp_path / "app.py").write_text(EXAMPLES["README:basic"])
    server = app_process(SERVERS[command])
    _serves(server)
    status, body = server.post_json("/_dash-update-component", GREET)
    assert status == 200 and json.loads(body)["response"] == {"greeting": {"children": "Hello, world!"}}, body


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_link_in_the_readme_and_docs_leads_somewhere() -> None:
    """A newcomer follows links: each relative link names a file (and heading) that exists."""
    for doc in DOCS:
        text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'src="([^"]+)"', text):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            file = (doc.parent / path).resolve() if path else doc
            assert file.exists(), f"{doc.name}: {target}"
            if anchor and file.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", file.read_text(), flags=re.S), re.M)
                assert anchor in {_slug(h) for h in headings}, f"{doc.name}: {target}"
