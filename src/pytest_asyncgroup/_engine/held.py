"""Timeouts for test code that holds the event loop (a blocking call in a test).

The worker loop times a test out by cancelling its task (``loop.py``, rule 3),
which takes effect at the test's next ``await``. Code that blocks the loop
instead (``time.sleep``, a blocking socket read, ``requests`` in an async
test) never reaches one, and the loop never runs its timer: the worker, and
under xdist the whole run, would hang.

So while the loop serves, each test's deadline is also armed on the process's
real-time timer (``signal.setitimer``, ``SIGALRM``), as pytest-timeout's signal
method does for one test per process. When it rings, the loop decides
(``Deadlines.on_alarm``): if the test whose step is running is past its
deadline, and that one step has held the loop for :data:`GRACE` since the
deadline (or since it began, if later), the loop's own timer could not run,
and the timeout is raised in that test's code, where the loop is held. Never
in another test's code (one holding the loop over a test's deadline does not
get that test's timeout); only inside a phase of pytest's protocol (setup,
call, teardown), whose errors pytest reports; and never while the innermost
frame is the engine's or asyncio's own (:func:`in_test_code`). Otherwise the
alarm rings again shortly, so the engine's bookkeeping is never cut in half.

Available where Python has ``SIGALRM`` (not Windows), in the main thread, and
while no one else's ``SIGALRM`` handler is installed: pytest-timeout installs
its own around each test that runs alone and puts the default back after, so
ours is installed again when a deadline is armed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

GRACE = 0.1
"""Seconds past a deadline before the loop counts as held (its timer would have run)."""
RETRY = 0.01
"""Seconds until the alarm rings again when it found the engine's own code running."""

_ENGINE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ASYNCIO = os.path.dirname(os.path.abspath(asyncio.__file__))


def in_test_code(frame: FrameType | None) -> bool:
    """Whether an exception may be raised at ``frame``: not in the engine or asyncio."""
    if frame is None:
        return False
    filename = os.path.abspath(frame.f_code.co_filename)
    return not filename.startswith((_ENGINE, _ASYNCIO))


OnRing = Callable[[FrameType | None], "tuple[float | None, BaseException | None]"]
"""Called in the main thread when the alarm rings, with the frame it rang in:
when to ring next, and a timeout to raise there, if any."""


class LoopAlarm:
    """The process's ``SIGALRM`` real-time timer, for one worker loop while it serves."""

    def __init__(self, on_ring: OnRing) -> None:
        self._on_ring = on_ring
        self._ring_handler = self._ring  # one bound method, to recognise it installed
        self._usable = hasattr(signal, "SIGALRM") and (
            threading.current_thread() is threading.main_thread()
        )

    def arm(self, delay: float) -> None:
        """Ring in ``delay`` seconds, or sooner if already set to (loop thread)."""
        if not self._usable:
            return
        installed = signal.getsignal(signal.SIGALRM)
        if installed is not self._ring_handler:
            if installed not in (signal.SIG_DFL, None):
                return  # someone else's: leave it (and hung tests) alone
            signal.signal(signal.SIGALRM, self._ring_handler)
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        if not remaining or delay < remaining:
            signal.setitimer(signal.ITIMER_REAL, max(delay, 0.001))

    def close(self) -> None:
        """Stop ringing, and take the handler away if it is still ours."""
        if self._usable and signal.getsignal(signal.SIGALRM) is self._ring_handler:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)

    def _ring(self, signum: int, frame: FrameType | None) -> None:
        __tracebackhide__ = True
        delay, timeout = self._on_ring(frame)
        if delay is not None:
            signal.setitimer(signal.ITIMER_REAL, max(delay, 0.001))
        if timeout is not None:
            raise timeout  # in the code holding the loop: the test's own
