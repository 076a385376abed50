"""`OutageLog`: one log line when Redis goes away, one when it is back, whatever fails between.

Why: during an outage every part of a worker that talks to Redis fails, and keeps failing each
time it retries: the bus's once-a-second checks, the control channel, every run's writes, every
downlink's reads. Logged each on their own, a two-minute outage of a worker with a thousand
streams wrote thousands of near-identical warnings, burying the two facts an operator needs:
when it started and when it ended. Each failure is reported here instead; only the first of an
outage is logged (as a warning), the rest at debug level, and the first success afterwards logs
the recovery with how long it lasted and how many operations failed meanwhile.

One per `RedisSharedStorage` (so per worker process); its state is two numbers, nothing grows.
"""

from __future__ import annotations

import logging
import time

logger = logging.getLogger("flash.storage")

DOWN = "Shared storage unreachable"  # the start of the one line logged per outage
BACK = "Shared storage reachable again"  # the start of the one line logged per recovery


def _escaped(text: str, limit: int = 300) -> str:
    """One ASCII line: an exception's text may hold newlines or what looks like a log line."""
    text = text if len(text) <= limit else text[:limit] + "..."
    return text.encode("unicode_escape").decode("ascii")


class OutageLog:
    """Tracks whether `what` (e.g. ``Redis at host:6379/0``) answers, and logs the changes."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.down_since: float | None = None  # monotonic time of the outage's first failure
        self.failures = 0  # operations failed in the current outage

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, exc: BaseException, doing: str) -> bool:
        """An operation on Redis failed with `exc` while `doing` something; True when this
        started an outage (and was logged)."""
        detail = _escaped(f"{type(exc).__name__}: {exc}")
        if self.down_since is None:
            self.down_since = time.monotonic()
            self.failures = 1
            logger.warning(
                "%s (%s): %s, while %s. Pages reconnect and resume once it answers; further failures are not logged until then",
                DOWN,
                self.what,
                detail,
                doing,
            )
            return True
        self.failures += 1
        logger.debug("%s still (%s): %s, while %s", DOWN, self.what, detail, doing)
        return False

    def succeeded(self) -> None:
        """An operation on Redis succeeded: ends the outage, if there was one."""
        if self.down_since is None:
            return
        lasted = time.monotonic() - self.down_since
        failures, self.down_since, self.failures = self.failures, None, 0
        logger.warning("%s (%s) after %.1f s; %d operation(s) failed meanwhile", BACK, self.what, lasted, failures)
