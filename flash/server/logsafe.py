"""Exception text reaches the log escaped, as request text does (`errors.escaped`).

Why: an exception's message often carries what a client sent (``ValueError(f"bad id {value}")``)
and a generator's exception can say anything; written raw, a newline in it starts a log line of
the sender's choosing. A filter on Flash's loggers, and on the app server's logger (which logs
callback failures), rewrites each record before any handler formats it, so no call site has to
remember: an argument (an exception's message included) whose text holds a control or non-ASCII
character, or is longer than `LIMIT`, becomes one quoted ASCII line (`errors.escaped`); the
traceback of ``exc_info`` keeps its frames (file names and source lines come from the code) but
each exception's message and notes are escaped the same way. Text that needs no escaping is left
as it was, so an ordinary traceback reads exactly as Python prints it.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any, Iterable

from .errors import escaped

LIMIT = 2000  # characters of one message kept; a 10 MB exception message must not flood the log
_UNSAFE = re.compile(r"[^\x20-\x7e]")
_MAX_CHAIN = 50  # causes/contexts/group members formatted per record
# Every logger Flash logs to (tests/unit/test_log_escaping.py checks each getLogger("flash...")
# in flash/ is here): each gets the filter, whenever its module is imported.
FLASH_LOGGERS = (
    "flash",
    "flash.access",
    "flash.auth",
    "flash.channels",
    "flash.components",
    "flash.error",
    "flash.requests",
    "flash.server",
    "flash.shutdown",
    "flash.storage",
    "flash.streaming",
    "flash.threads",
)


def one_line(text: str) -> str:
    """`text` itself when it is printable ASCII of at most `LIMIT` characters, else `escaped`."""
    return escaped(text, LIMIT) if len(text) > LIMIT or _UNSAFE.search(text) else text


def safe_text(value: Any) -> Any:
    """`value`, or its text made `one_line` when that text is unsafe in a log line."""
    if isinstance(value, BaseException):
        return one_line(_message(value))
    if value is None or isinstance(value, (int, float)):
        return value  # keeps %d / %.3g working
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:  # a broken __str__ fails in logging as before
        return value
    safe = one_line(text)
    return value if safe is text else safe


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return "<exception str() failed>"


def exception_line(exc: BaseException) -> str:
    """``module.Type: message`` (the last line of a traceback), the message made `one_line`."""
    cls = type(exc)
    name = cls.__qualname__ if cls.__module__ in ("builtins", "__main__") else f"{cls.__module__}.{cls.__qualname__}"
    message = _message(exc)
    return f"{name}: {one_line(message)}" if message else name


def format_traceback(exc: BaseException) -> str:
    """Python's traceback of `exc` (causes, contexts, exception groups) with messages escaped."""
    lines: list[str] = []
    _format(exc, lines, set())
    return "".join(lines).rstrip("\n")


def _format(exc: BaseException, out: list[str], seen: set[int]) -> None:
    seen.add(id(exc))
    if len(seen) > _MAX_CHAIN:
        out.append("... (more exceptions)\n")
        return
    cause, context = exc.__cause__, None if exc.__suppress_context__ else exc.__context__
    if cause is not None and id(cause) not in seen:
        _format(cause, out, seen)
        out.append("\nThe above exception was the direct cause of the following exception:\n\n")
    elif context is not None and id(context) not in seen:
        _format(context, out, seen)
        out.append("\nDuring handling of the above exception, another exception occurred:\n\n")
    if exc.__traceback__ is not None:
        out.append("Traceback (most recent call last):\n")
        out.extend(traceback.format_tb(exc.__traceback__))
    out.append(exception_line(exc) + "\n")
    for note in getattr(exc, "__notes__", None) or ():
        out.append(one_line(str(note)) + "\n")
    if isinstance(exc, BaseExceptionGroup):
        for number, member in enumerate(exc.exceptions, 1):
            inner: list[str] = []
            _format(member, inner, seen)
            out.append(f"+---------------- {number} ----------------\n")
            out.extend(f"| {line}" for line in "".join(inner).splitlines(True))


class EscapeUntrusted(logging.Filter):
    """Escapes a record's exception text and unsafe arguments in place (see the module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(safe_text(arg) for arg in args)
        elif isinstance(args, dict):  # logging's single-mapping form: "%(name)s" % {...}
            record.args = {key: safe_text(value) for key, value in args.items()}
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and not record.exc_text:
            record.exc_text = format_traceback(exc)  # what logging.Formatter prints for exc_info
        return True


_FILTER = EscapeUntrusted()


def escape_log_text(extra: Iterable[logging.Logger] = ()) -> None:
    """Put the filter on every Flash logger and on `extra` (e.g. the Quart app's logger), once."""
    loggers = [logging.getLogger(name) for name in FLASH_LOGGERS] + list(extra)
    for logger in loggers:
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
