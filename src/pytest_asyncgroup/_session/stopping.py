"""``-x`` / ``--maxfail``: stop at the session's first reason, and keep saying it.

pytest's session counts failures and sets ``session.shouldfail`` ("stopping
after 1 failures") once ``--maxfail`` is reached. The tests we then cancel fail
too, and the session recounts with each ("stopping after 8 failures"); the run
should say what stopped it. The same goes for ``--sw``, which would remember
the last cancelled test instead of the failure. One-process mode and the xdist
controller share this: both call :meth:`FirstStop.check` after the session
has seen a report.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .. import _compat


class FirstStop:
    def __init__(self, stop: Callable[[str], None]) -> None:
        self._stop = stop
        self.reason: str | None = None
        self._restore_stepwise: Callable[[], None] | None = None

    def check(self, session: pytest.Session) -> None:
        """Stop at the session's first reason; afterwards put that reason back."""
        if self.reason is None:
            reason = session.shouldfail or session.shouldstop
            if reason:
                self.reason = str(reason)
                self._restore_stepwise = _compat.stepwise_pin(session.config)
                self._stop(self.reason)
            return
        if session.shouldfail:
            session.shouldfail = self.reason
        if self._restore_stepwise is not None:
            self._restore_stepwise()
