"""Per-test timeouts on the worker loop (rule 3 of ``loop.py``).

A test's clock starts when it starts (:meth:`Deadlines.arm`). When it expires,
the test's task is cancelled with the timeout as its interruption, in whatever
phase it is (setup, call or teardown); its teardown then gets as long again,
and if it is still running after that (a teardown that hangs too), it is
cancelled once more. A test whose code holds the loop past its deadline (a
blocking call) gets the timeout raised in that code instead, by a signal
(``held.py``, :meth:`Deadlines.on_alarm`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Protocol

import pytest

from .held import GRACE, RETRY, LoopAlarm, in_test_code
from .item import TestRecord


@dataclass
class Clock:
    """One test's deadline."""

    timer: asyncio.TimerHandle | None = None
    timeouts: int = 0
    seconds: float = 0.0
    """The test's timeout; 0: none."""
    deadline: float | None = None
    """When ``timer`` is due (``time.perf_counter``), while it is armed."""


class Timed(Protocol):
    """A test in flight, as the worker loop keeps it."""

    @property
    def item(self) -> pytest.Item: ...

    @property
    def record(self) -> TestRecord: ...

    @property
    def clock(self) -> Clock: ...


class Deadlines:
    """The clocks of the tests in flight (``running``: task -> test), and the phase
    each test is in, which the timeout's message names."""

    def __init__(
        self,
        running: Mapping[asyncio.Task[None], Timed],
        loop: Callable[[], asyncio.AbstractEventLoop | None],
    ) -> None:
        self._running = running
        self._loop = loop
        self.phases: dict[pytest.Item, str] = {}
        self._alarm = LoopAlarm(self.on_alarm)

    def on_phase(self, item: pytest.Item, when: str | None) -> None:
        """pytest starts phase ``when`` of ``item`` (None: the test is done)."""
        if when:
            self.phases[item] = when
        else:
            self.phases.pop(item, None)

    def arm(self, task: asyncio.Task[None], test: Timed, seconds: float) -> None:
        """Start ``test``'s clock: ``seconds`` from now."""
        test.clock.seconds = seconds
        self._set_timer(task, test)

    def _set_timer(self, task: asyncio.Task[None], test: Timed) -> None:
        loop = self._loop()
        if loop is not None:
            clock = test.clock
            clock.timer = loop.call_later(clock.seconds, self._time_out, task, test)
            clock.deadline = time.perf_counter() + clock.seconds
            self._alarm.arm(clock.seconds + GRACE)

    def disarm(self, test: Timed) -> None:
        clock = test.clock
        if clock.timer is not None:
            clock.timer.cancel()
            clock.timer = None
        clock.deadline = None

    def done(self, test: Timed) -> None:
        """``test`` has finished: no clock, no phase."""
        self.disarm(test)
        self.phases.pop(test.item, None)

    def close(self) -> None:
        self._alarm.close()

    def _time_out(self, task: asyncio.Task[None], test: Timed) -> None:
        """The timeout: cancel the test in whatever phase it is."""
        if task.done():
            return
        test.record.interruption = self._timeout_error(test, "pytest-asyncgroup cancelled the test")
        task.cancel()
        self._timed_out(task, test)

    def _timed_out(self, task: asyncio.Task[None], test: Timed) -> None:
        self.disarm(test)
        test.clock.timeouts += 1
        if test.clock.timeouts == 1:  # its teardown gets as long again
            self._set_timer(task, test)

    def _timeout_error(self, test: Timed, what: str, *, where: bool = False) -> BaseException:
        """The timeout failure; ``where``: with the traceback to where it was raised."""
        phase = self.phases.get(test.item, "setup")
        return pytest.fail.Exception(
            f"Timeout (>{test.clock.seconds:g}s) during {phase}: {what}", pytrace=where
        )

    def on_alarm(self, frame: FrameType | None) -> tuple[float | None, BaseException | None]:
        """The timeout of a test holding the loop (``held.py``; in the signal handler).

        The test whose task's step is running is timed out there only once that
        step has held the loop for ``GRACE`` past the deadline (or past its own
        start, if it began later: another test may have held the loop over the
        deadline), and only while it is in a phase of pytest's protocol (whose
        errors pytest reports) and not in the engine's own code.
        """
        loop = self._loop()
        if loop is None:
            return None, None
        now = time.perf_counter()
        task = asyncio.current_task(loop)  # whose step holds the loop
        test = self._running.get(task) if task is not None else None
        timeout = None
        started = test.record.step_started if test is not None else None
        deadline = test.clock.deadline if test is not None else None
        if test is not None and started is not None and deadline is not None and now >= deadline:
            held_since = max(started, deadline)
            if now < held_since + GRACE:
                return held_since + GRACE - now, None
            if test.item not in self.phases or not in_test_code(frame):
                return RETRY, None
            timeout = self._timeout_error(
                test,
                "pytest-asyncgroup interrupted the test's code, which held the loop",
                where=True,
            )
            self._timed_out(task, test)  # type: ignore[arg-type]
        deadlines = [
            t.clock.deadline for t in self._running.values() if t.clock.deadline is not None
        ]
        ring = max(min(deadlines) + GRACE - now, RETRY) if deadlines else None
        return ring, timeout
