"""``-x`` / ``--maxfail``: stop at the session's first reason, and keep saying it.

pytest's session counts failures and sets ``session.shouldfail`` ("stopping
after 1 failures") once ``--maxfail`` is reached. The tests we then cancel fail
too, and the session recounts with each ("stopping after 8 failures"); the run
should say what stopped it. One-process mode and the xdist controller share
this: both call :meth:`FirstStop.check` after the session has seen a report.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest


class FirstStop:
    def __init__(self, stop: Callable[[str], None]) -> None:
        self._stop = stop
        self.reason: str | None = None

    def check(self, session: pytest.Session) -> None:
        """Stop at the session's first reason; afterwards put that reason back."""
        if self.reason is None:
            reason = session.shouldfail or session.shouldstop
            if reason:
                self.reason = str(reason)
                self._stop(self.reason)
        elif session.shouldfail:
            session.shouldfail = self.reason
