"""A test that changes process-wide state holds the other tests still until it ends.

Some patches cannot be made per test (``patches.py``): ``os.environ``
(``monkeypatch.setenv``), ``sys.path``, the working directory, ``setitem`` on a
shared dict, a module global that is not callable. A plain run shows such a
patch to the patching test only, since nothing else runs beside it. Here other
tests are in flight when it comes, often in an autouse fixture's setup.

So the test making it takes the worker's :class:`Gate` (:meth:`Gate.hold`) and
keeps it until it ends. While it holds it:

- no other test starts (the worker loop asks :attr:`Gate.holder`);
- every other test's code stops at its next step: the steps of its protocol
  (``bridge.py``) and of the tasks it started (``spawned.py``) wait for the gate
  to open before they run (:func:`passage`, :meth:`Gate.waiter`). A
  cancellation that comes meanwhile (a timeout, a stop) is delivered when they
  go on.

Code outside every test (the loop's own, class/module/session fixtures and the
tasks they started) is not held, as it would run beside the test in a plain run
too. Neither are threads and loop callbacks that are not a task's steps.

Worked example, A and B in flight, A's autouse fixture calls ``setenv``::

    A: setup ... setenv -> hold   (B is awaiting a response)
    B's response arrives          -> B's task waits on the gate, no step runs
    A: call, teardown (undo), end -> gate opens; B steps on; new tests start
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import Any

from . import per_test


class Gate:
    """Who holds the worker's tests still (one per worker loop)."""

    __slots__ = ("_on_hold", "_on_release", "_waiters", "holder", "reason")

    def __init__(
        self,
        on_hold: Callable[[str, str], None] = lambda nodeid, what: None,
        on_release: Callable[[], None] = lambda: None,
    ) -> None:
        self.holder: per_test.TestContext | None = None
        self.reason = ""
        """What the holder changed that others must not see (for the summary)."""
        self._waiters: list[asyncio.Future[None]] = []
        self._on_hold = on_hold
        self._on_release = on_release

    def hold(self, test: per_test.TestContext, what: str) -> bool:
        """``test`` changes ``what``, process-wide: hold the others until it ends.

        False when another test holds the gate already: the caller's code runs
        where it cannot be held (a thread, a loop callback), and the change is
        made all the same."""
        per_test.changed(test, what)
        if self.holder is test:
            return True
        if self.holder is not None:
            return False
        self.holder, self.reason = test, what
        test.at_end(lambda: self._release(test))
        self._on_hold(test.nodeid, what)
        return True

    def blocks(self) -> bool:
        """Whether the code running now must wait (it is another test's)."""
        holder = self.holder
        if holder is None:
            return False
        test = per_test.current()
        return test is not None and test is not holder

    def waiter(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """A future done when the gate opens (one per waiting step, so cancelling
        one waiter cancels no other), ready to be yielded to the task stepping the
        code, as ``Future.__await__`` yields one."""
        future = loop.create_future()
        future._asyncio_future_blocking = True
        self._waiters.append(future)
        return future

    def _release(self, test: per_test.TestContext) -> None:
        if self.holder is not test:
            return
        self.holder, self.reason = None, ""
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)
        self._on_release()


_GATE: list[Gate | None] = [None]
"""The gate of the worker loop now serving, if any (one loop per thread at most)."""


def installed(gate: Gate) -> Callable[[], None]:
    """Make ``gate`` the serving loop's; returns the undo."""
    _GATE[0] = gate

    def undo() -> None:
        _GATE[0] = None

    return undo


def current_gate() -> Gate | None:
    return _GATE[0]


def must_wait() -> bool:
    """Whether the step about to run is another test's while a test holds the gate."""
    gate = _GATE[0]
    return gate is not None and gate.holder is not None and gate.blocks()


def passage() -> Generator[Any, Any, BaseException | None]:
    """``yield from`` in an awaitable's steps: wait until the running test's code may
    go on. Returns what was thrown in meanwhile (a cancellation), for the caller
    to deliver then; the wait itself is not cut short by it."""
    pending: BaseException | None = None
    gate = _GATE[0]
    while gate is not None and gate.blocks():
        waiter = gate.waiter(asyncio.get_running_loop())
        try:
            yield waiter
        except GeneratorExit:
            raise
        except BaseException as exc:  # delivered once the gate opens
            if pending is None:
                pending = exc
        gate = _GATE[0]
    return pending


class _Passage:
    __slots__ = ()

    def __await__(self) -> Generator[Any, Any, BaseException | None]:
        return passage()


async def held_back() -> BaseException | None:
    """``await`` form of :func:`passage`."""
    return await _Passage()
