"""Exception text reaches the log escaped, as request text does: an exception message with
newlines or control characters, from a stream generator or a callback, cannot add a log line of
its own (flash/server/logsafe.py)."""

from __future__ import annotations

import ast
import io
import json
import logging
import re
import traceback
from pathlib import Path
from typing import Any, Iterator

import pytest

from flash import Flash, Input, Output, State, html, stream_props
from flash.server.logsafe import FLASH_LOGGERS, LIMIT, format_traceback
from tests.conftest import dep, run
from tests.streaming.downlink_client import Downlink, post, setup, start_body

ROOT = Path(__file__).resolve().parents[2]
FORGED = "2026-12-07 01:00:00 CRITICAL flash.auth: admin logged in"
EVIL = f"bad input\n{FORGED}\r\n{FORGED}\x1b[2J\u2028{FORGED}\x00"
LINE = re.compile(r"^\[LOG\] \w+ [\w.]+: ")  # a record's first line, in the format below


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    """What a plain text handler on the root logger writes (the usual production set-up)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("[LOG] %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def check_no_forged_line(text: str) -> None:
    assert "bad input" in text, text  # the message is logged ...
    assert "\x1b" not in text and "\x00" not in text and "\u2028" not in text and "\r" not in text, repr(text)
    for line in text.splitlines():  # ... and no line of the log is the sender's
        assert not line.startswith(FORGED), f"forged log line: {line!r}\nlog:\n{text}"
    assert json.dumps(EVIL)[1:-1] in text  # shown escaped, in full


def make_app() -> Flash:
    app = Flash(__name__)
    app.layout = html.Div([html.Button(id="go"), html.Div(id="out"), html.Div(id="rows"), html.Div(id="inp")])
    return app


def test_a_stream_generators_exception_text_cannot_forge_a_log_line(log: io.StringIO) -> None:
    app = make_app()

    @app.event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def failing(n: int, rows: Any) -> Any:
        yield stream_props("out", {"children": "first"})
        raise ValueError(EVIL)

    async def go() -> list[str]:
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            status, answer = await post(client, f"/_flash/stream/{failing.stream_id}", start_body(downlink.token))
            assert status == 200, answer
            messages = await downlink.until(lambda ms: any(m.event == "error" for m in ms))
            return [m.event for m in messages]

    assert run(go()) == ["props", "error"]
    text = log.getvalue()
    assert "Stream 'failing' failed" in text and 'ValueError: "bad input\\n' in text, text
    check_no_forged_line(text)


def test_a_callbacks_exception_text_cannot_forge_a_log_line(log: io.StringIO) -> None:
    app = make_app()

    @app.callback(Output("out", "children"), Input("inp", "children"))
    def failing(value: Any) -> str:
        raise ValueError(EVIL)

    async def go() -> int:
        client = app.server.test_client()
        await setup(client)
        body = {
            "output": "out.children",
            "outputs": {"id": "out", "property": "children"},
            "inputs": [dep("inp", "children", "x")],
            "changedPropIds": ["inp.children"],
        }
        response = await client.post("/_dash-update-component", json=body)
        return response.status_code

    assert run(go()) == 500
    text = log.getvalue()
    assert "Exception on" in text, text
    check_no_forged_line(text)


@pytest.mark.parametrize("name", FLASH_LOGGERS)
def test_an_exception_or_text_given_as_an_argument_is_escaped(log: io.StringIO, name: str) -> None:
    make_app()  # installs the filter
    logging.getLogger(name).warning("Stream %s stopped: %s (%d)", "x", ValueError(EVIL), 3)
    logging.getLogger(name).warning("Downlink cut: %s", f"shared storage failed ({EVIL})")
    logging.getLogger(name).warning("%(what)s", {"what": EVIL})
    text = log.getvalue()
    assert len([line for line in text.splitlines() if LINE.match(line)]) == 3
    assert len(text.splitlines()) == 3, text
    check_no_forged_line(text)
    assert "(3)" in text  # numbers keep their format


def test_ordinary_messages_and_tracebacks_read_as_python_prints_them(log: io.StringIO) -> None:
    make_app()

    def fail() -> None:
        try:
            {}["missing"]
        except KeyError as exc:
            raise ValueError("plain message") from exc

    try:
        try:
            fail()
        except ValueError:
            raise RuntimeError("while handling") from None
    except RuntimeError as caught:
        exc = caught
    try:
        fail()
    except ValueError as caught:
        chained = caught
    for error in (exc, chained):
        assert format_traceback(error) == "".join(traceback.format_exception(error)).rstrip("\n")
    logging.getLogger("flash.streaming").error("Stream '%s' failed", "gen", exc_info=chained)
    assert log.getvalue() == ("[LOG] ERROR flash.streaming: Stream 'gen' failed\n" + "".join(traceback.format_exception(chained)))


def test_exception_groups_notes_and_huge_messages_stay_escaped_and_bounded() -> None:
    inner = ValueError(EVIL)
    inner.add_note(EVIL)
    try:
        raise ExceptionGroup("several", [inner, TypeError("x" * 10_000_000)])
    except ExceptionGroup as group:
        text = format_traceback(group)
    assert text.count('"bad input\\n') == 2, text[:2000]  # the member's message and its note
    assert len(text) < 5 * LIMIT + 2000
    assert all(not line.lstrip("| ").startswith(FORGED) for line in text.splitlines())


def test_every_flash_logger_gets_the_filter() -> None:
    """A new `logging.getLogger("flash....")` (or `..._LOGGER = "flash...."`) in flash/ must be
    added to FLASH_LOGGERS."""
    used = set()
    for path in (ROOT / "flash").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "getLogger"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).startswith("flash")
            ):
                used.add(node.args[0].value)
            elif (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and any(getattr(t, "id", "").endswith("_LOGGER") for t in node.targets)
            ):
                used.add(node.value.value)
    assert used and used <= set(FLASH_LOGGERS), f"not in logsafe.FLASH_LOGGERS: {sorted(used - set(FLASH_LOGGERS))}"
    app = make_app()
    for logger in [logging.getLogger(name) for name in FLASH_LOGGERS] + [app.server.logger]:
        assert any(type(f).__name__ == "EscapeUntrusted" for f in logger.filters), logger.name
