"""A stalled run says where it waits.

A test awaiting something that never comes (an event nobody sets, a wake-up a
patched loop dropped, a server that never answers) waits silently: its task is
not running, so ``faulthandler_timeout`` shows only the idle loop; or it polls
(``while not done: await asyncio.sleep(0.1)``) for a condition that never comes,
as uvicorn's shutdown does when it missed a connection (the chain goes on
through an async context manager's ``__aexit__`` into its generator, down to
that loop). When a worker has tests
in flight and none of them has begun or ended a phase (set-up, call, teardown)
for ``asyncgroup_stall_report`` seconds, :class:`StallWatch` reports, once per
stall: the tests in flight, how long each has run, where each waits (its await
chain, from the test's code down to the awaited future, and the synchronous
code of its fixtures that waits on it), and the tests that last changed shared
state (``per_test.RECENT``). It fails nothing; a test with a timeout is still
stopped by it.

Progress is :data:`PHASES`, a counter bumped as each phase of a test begins
and as the test ends (``installed.py``): a count of steps would take a polling
loop for progress. A watcher thread reads it every second; the report itself is made
on the loop's thread, where the tasks' coroutines can be read safely, or, when
the loop does not answer (a test's synchronous code blocks it), from the watcher
with the loop thread's current stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import linecache
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from . import per_test

PHASES = [0]
"""Phases of tests begun or ended so far (bumped by ``installed.py``)."""

_HIDDEN = ("/pytest_asyncgroup/", "/_pytest/", "/pluggy/", "/greenlet/")
"""Frames of the machinery that runs a test, left out of its await chain."""


@dataclass(frozen=True)
class Stall:
    """The stall report's setting: after ``seconds`` (0: never), ``report`` the text;
    ``where`` names the worker ("gw0", "the main process")."""

    seconds: float
    report: Callable[[str], None]
    where: str
    close: Callable[[], None] = lambda: None
    """Called once the loop has served (closes what ``report`` writes to)."""


@dataclass(frozen=True)
class InFlight:
    """A test in flight: its id, its phase, since when (``time.time()``), its task."""

    nodeid: str
    phase: str
    since: float
    task: asyncio.Task[Any] | None


def _frame_of(awaitable: Any) -> FrameType | None:
    for name in ("cr_frame", "gi_frame", "ag_frame"):
        frame = getattr(awaitable, name, None)
        if frame is not None:
            return frame  # type: ignore[no-any-return]
    return None


def _awaited_by(awaitable: Any, frame: FrameType | None) -> Any:
    """What ``awaitable`` waits on: the next link of the chain, if any."""
    inner = getattr(awaitable, "_inner", None)  # a task's coroutine wrapped by spawned.py
    if inner is not None and frame is None:
        return inner
    if frame is not None:
        scoped = frame.f_locals.get("self")
        wrapped = getattr(scoped, "_awaitable", None)  # bridge._Scoped's generator
        if wrapped is not None and frame.f_code.co_name == "__await__":
            return wrapped
    for name in ("cr_await", "gi_yieldfrom", "ag_await"):
        value = getattr(awaitable, name, None)
        if value is not None:
            if frame is not None and type(value).__name__ in _ASEND:
                return _running_generator(frame) or value
            return value
    return None


_ASEND = ("async_generator_asend", "async_generator_athrow")
"""What ``await anext(gen)`` / ``gen.athrow()`` awaits: it does not say which generator."""


def _running_generator(frame: FrameType) -> Any:
    """The async generator ``frame`` is stepping (``await anext(self.gen)`` in
    ``asynccontextmanager``'s ``__aexit__``, say): one of its locals, or a local's
    ``gen``, that is running and suspended on an await."""
    for value in frame.f_locals.values():
        for candidate in (value, getattr(value, "gen", None)):
            if getattr(candidate, "ag_running", False) and getattr(candidate, "ag_await", None):
                return candidate
    return None


def await_chain(task: asyncio.Task[Any]) -> tuple[list[FrameType], str]:
    """The frames ``task`` waits in, outermost first (the synchronous code of a
    test's greenlet where it waits on an awaitable), and what it waits on last."""
    frames: list[FrameType] = []
    awaitable: Any = task.get_coro()
    seen: set[int] = set()
    waits_on = ""
    while awaitable is not None and id(awaitable) not in seen:
        seen.add(id(awaitable))
        if isinstance(awaitable, asyncio.Future):
            waits_on = repr(awaitable)
            break
        frame = _frame_of(awaitable)
        if frame is not None:
            frames.append(frame)
            child = frame.f_locals.get("child")  # bridge.run_in_greenlet's greenlet
            sync_frame = getattr(child, "gr_frame", None)
            if sync_frame is not None:
                frames.extend(reversed(list(_outward(sync_frame))))
        following = _awaited_by(awaitable, frame)
        if following is not None and _frame_of(following) is None and frame is not None:
            # A future's iterator (``await fut``) does not say whose: the frame's own does.
            futures = [v for v in frame.f_locals.values() if isinstance(v, asyncio.Future)]
            if futures and not isinstance(following, asyncio.Future):
                following = futures[-1]
        awaitable = following
    return frames, waits_on


def _outward(frame: FrameType | None) -> Iterable[FrameType]:
    while frame is not None:
        yield frame
        frame = frame.f_back


def format_frames(frames: Iterable[FrameType], indent: str = "    ") -> list[str]:
    lines = []
    for frame in frames:
        filename = frame.f_code.co_filename
        if any(part in filename for part in _HIDDEN):
            continue
        lineno = frame.f_lineno
        lines.append(f'{indent}File "{filename}", line {lineno}, in {frame.f_code.co_name}')
        source = linecache.getline(filename, lineno).strip()
        if source:
            lines.append(f"{indent}  {source}")
    return lines


def stall_report(
    seconds: float, in_flight: Sequence[InFlight], where: str, blocked: FrameType | None = None
) -> str:
    """The report's text; ``blocked``: the loop thread's frame when the loop is blocked."""
    now = time.time()
    count = len(in_flight)
    head = (
        f"pytest-asyncgroup: no test on {where} has made progress for {seconds:g}s"
        f" (asyncgroup_stall_report); {count} test{'s' if count != 1 else ''} in flight:"
    )
    lines = [head]
    if blocked is not None:
        lines.append("  the loop is blocked, in synchronous code:")
        lines += format_frames(reversed(list(_outward(blocked))))
    for test in in_flight:
        lines.append(f"  {test.nodeid} ({test.phase}, for {now - test.since:.0f}s)")
        if test.task is not None and blocked is None:
            frames, waits_on = await_chain(test.task)
            lines += format_frames(frames)
            if waits_on:
                lines.append(f"    waiting on {waits_on}")
    recent = list(per_test.RECENT)
    if recent:
        lines.append("  tests that last changed shared state:")
        for change in reversed(recent[-5:]):
            lines.append(f"    {change.nodeid}: {change.what} ({now - change.when:.0f}s ago)")
    return "\n".join(lines)


class StallWatch:
    """The watcher thread; see module docstring."""

    def __init__(
        self,
        stall: Stall,
        loop: asyncio.AbstractEventLoop,
        in_flight: Callable[[], list[InFlight]],
    ) -> None:
        self._seconds = stall.seconds
        self._loop = loop
        self._in_flight = in_flight
        self._report = stall.report
        self._where = stall.where
        self._close = stall.close
        self._loop_thread = threading.get_ident()
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, name="pytest-asyncgroup-stall-watch", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
        self._close()

    def _watch(self) -> None:
        interval = min(1.0, self._seconds / 4)
        last, since, reported = PHASES[0], time.monotonic(), False
        while not self._stopped.wait(interval):
            phases = PHASES[0]
            if phases != last or not self._in_flight():
                last, since, reported = phases, time.monotonic(), False
                continue
            if not reported and time.monotonic() - since >= self._seconds:
                reported = True
                self._report_now()

    def _report_now(self) -> None:
        done = threading.Event()
        text: list[str] = []

        def on_the_loop() -> None:
            text.append(stall_report(self._seconds, self._in_flight(), self._where))
            done.set()

        try:
            self._loop.call_soon_threadsafe(on_the_loop)
        except RuntimeError:  # the loop has closed meanwhile
            return
        if not done.wait(2.0):  # the loop is blocked: say where, from here
            frame = sys._current_frames().get(self._loop_thread)
            with contextlib.suppress(RuntimeError):  # the loop went on meanwhile
                text.append(stall_report(self._seconds, self._in_flight(), self._where, frame))
        # A report that cannot be shown (the terminal went away) must not stop the run.
        with contextlib.suppress(Exception):
            if text:
                self._report(text[0])
