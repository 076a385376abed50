"""Work Flash does outside any HTTP request runs in a request context built from Quart's public
pieces (server/internal_request.py), and production code never uses Quart's test helpers."""

from __future__ import annotations

import ast
from pathlib import Path

from quart import Quart, request, url_for

from flash.server.internal_request import internal_request_context
from tests.conftest import run

ROOT = Path(__file__).resolve().parents[2]
TEST_HELPERS = {"test_request_context", "test_client", "test_app", "test_cli_runner"}


def test_the_context_looks_like_a_request_to_its_path():
    server = Quart(__name__)

    @server.route("/page/")
    async def page() -> str:
        return "page"

    async def inside() -> tuple[str, str, str, bytes, str]:
        async with internal_request_context(server, "/page/", method="POST"):
            return request.path, request.method, request.host, await request.get_data(), url_for("page")

    assert run(inside()) == ("/page/", "POST", "localhost", b"", "/page/")


def test_production_code_uses_no_quart_test_helper():
    found = []
    for path in sorted((ROOT / "flash").rglob("*.py")):
        if "testing" in path.relative_to(ROOT / "flash").parts:
            continue  # flash.testing is the test tooling
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in TEST_HELPERS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.attr}")
    assert not found, found
