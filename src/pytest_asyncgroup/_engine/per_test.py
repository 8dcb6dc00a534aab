"""Whose code is running: the per-test context that per-test state hangs on.

Several tests' code interleaves on the worker's loop, so state a plain run would
give each test alone (the loop's attributes, see ``loop_overlay.py``) needs to
know, wherever it is read or written, which test the code belongs to. That is
:func:`current`:

- a test's own code (its steps, its function-scoped fixtures' set-up and
  teardown, the tasks and callbacks it starts, which inherit its
  ``contextvars`` context) runs with :data:`_CURRENT` naming its
  :class:`TestContext`;
- a class, module, package or session fixture runs outside every test, even
  while set up or torn down in some test's protocol (:func:`wider_fixtures_outside`):
  what it leaves in place outlives that test, as in a plain run;
- a thread working on a test's behalf through ``loop.run_in_executor`` runs
  that call with the test named (:func:`on_behalf`); ``asyncio.to_thread``
  copies the context, so it names the test already;
- the loop's own scheduling, and anything after the test ended, runs outside.

It also keeps the last changes tests made to shared state (:data:`RECENT`), for
the report of a stalled run (``stalls.py``).
"""

from __future__ import annotations

import collections
import contextvars
import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
FixtureCall = Callable[[Callable[[Any, Any], Any], Any, Any], Any]


class TestContext:
    """One test's per-test state, for as long as the test runs."""

    __test__ = False
    __slots__ = ("_on_end", "ended", "nodeid", "overlays")

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.ended = False
        self.overlays: dict[int, dict[str, Any]] = {}
        """Per shared object (by ``id``): the attributes this test set or deleted on it."""
        self._on_end: list[Callable[[], None]] = []

    def at_end(self, callback: Callable[[], None]) -> None:
        self._on_end.append(callback)

    def end(self) -> None:
        """The test is over: from now on its code runs outside every test."""
        if self.ended:
            return
        self.ended = True
        callbacks, self._on_end = self._on_end, []
        for callback in callbacks:
            callback()


_CURRENT: contextvars.ContextVar[TestContext | None] = contextvars.ContextVar(
    "pytest_asyncgroup_current_test", default=None
)


class _Thread(threading.local):
    test: TestContext | None = None


_THREAD = _Thread()


def current() -> TestContext | None:
    """The test whose code is running, if it is one's and that test is not over."""
    test = _CURRENT.get() or _THREAD.test
    return None if test is None or test.ended else test


def begin(nodeid: str) -> TestContext:
    """Name a new test's context as the caller's (the test's task)."""
    test = TestContext(nodeid)
    _CURRENT.set(test)
    return test


def wider_fixtures_outside(call: FixtureCall) -> FixtureCall:
    """Wrap ``FixtureDef.execute`` or ``finish``: a fixture of a scope wider than
    the function runs outside every test."""

    def outside_if_wider(original: Callable[[Any, Any], Any], fixturedef: Any, request: Any) -> Any:
        __tracebackhide__ = True
        if fixturedef.scope == "function":
            return call(original, fixturedef, request)
        return called_with(_CURRENT, None, call, original, fixturedef, request)

    return outside_if_wider


V = TypeVar("V")


def called_with(
    var: contextvars.ContextVar[V], value: V, function: Callable[..., T], *args: Any
) -> T:
    """``function(*args)`` with ``var`` set to ``value`` for the call (the
    fixture wrappers' idiom; no new token when it already is)."""
    __tracebackhide__ = True
    if var.get() is value:
        return function(*args)
    token = var.set(value)
    try:
        return function(*args)
    finally:
        var.reset(token)


def on_behalf(test: TestContext, function: Callable[..., T]) -> Callable[..., T]:
    """``function``, to be called in another thread for ``test``."""

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> T:
        before, _THREAD.test = _THREAD.test, test
        try:
            return function(*args, **kwargs)
        finally:
            _THREAD.test = before

    return call


@dataclass(frozen=True)
class Change:
    """A test changed shared state: ``what``, at ``when`` (``time.time()``)."""

    nodeid: str
    what: str
    when: float


RECENT: collections.deque[Change] = collections.deque(maxlen=10)
"""The last changes tests made to shared state, newest last."""


def changed(test: TestContext, what: str) -> None:
    RECENT.append(Change(test.nodeid, what, time.time()))
