"""OutageLog: one warning when Redis goes away, one when it is back, whatever fails between."""

from __future__ import annotations

import logging

from flash.storage.outage import BACK, DOWN, OutageLog


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "flash.storage" and r.levelno >= logging.WARNING]


def test_one_line_per_outage_and_one_per_recovery(caplog):
    caplog.set_level(logging.DEBUG, logger="flash.storage")
    log = OutageLog("Redis at 127.0.0.1:6379/0")
    log.succeeded()  # nothing to recover from: silent
    assert log.failed(ConnectionError("refused"), "reading") is True
    for _ in range(50):
        assert log.failed(TimeoutError("slow"), "writing") is False
    assert log.down
    log.succeeded()
    log.succeeded()
    assert not log.down
    log.failed(ConnectionError("refused again"), "reading")
    log.succeeded()
    lines = warnings_of(caplog)
    assert [line.split(" (")[0] for line in lines] == [DOWN, BACK, DOWN, BACK], lines
    assert "ConnectionError: refused, while reading" in lines[0] and "Redis at 127.0.0.1:6379/0" in lines[0]
    assert "51 operation(s) failed meanwhile" in lines[1]


def test_an_exceptions_text_cannot_forge_a_log_line(caplog):
    caplog.set_level(logging.WARNING, logger="flash.storage")
    OutageLog("Redis").failed(ConnectionError("boom\nCRITICAL root: forged"), "reading")
    (line,) = warnings_of(caplog)
    assert "\n" not in line and "boom\\nCRITICAL" in line
