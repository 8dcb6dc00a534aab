"""Each overlapping test's own warning filters and records.

Before Python 3.14 the warnings machinery is process-wide: ``warnings.filters``
and the function that shows (or, under ``catch_warnings(record=True)``, records)
a warning are module globals, and ``catch_warnings`` saves and restores them
last-in first-out. pytest enters one ``catch_warnings`` per test (with the
test's ``filterwarnings`` marks, ``-W`` and the ini filters), ``pytest.warns``
and ``recwarn`` enter more. Tests that overlap would restore each other's state
out of order and record each other's warnings.

So each overlapping test gets a :class:`WarningsState`, and the bridge calls
:meth:`~WarningsState.enter` and :meth:`~WarningsState.exit` around every step
of the test's own code (each greenlet switch, each step of an awaitable it
waits on). Whatever the test's code does to the globals, ``catch_warnings``
included, is kept as that test's state and swapped out when the step ends. The
warnings machinery itself (C, with its filters, registries and actions) is
unchanged; it only ever sees one test's state at a time.

Tasks a test starts itself (``spawned.py``) run each step under a
:class:`TaskWarnings`: the test's state as it is at that step (so their warnings
are recorded for the test, and its filters, ``pytest.warns`` included, apply to
them, as in a plain run where the task's steps run while the test waits), or the
task's own once its code changes the globals.
"""

from __future__ import annotations

import warnings
from typing import Any

_State = tuple[Any, Any, Any]


def _current() -> _State:
    return (warnings.filters, warnings.showwarning, warnings._showwarnmsg_impl)  # type: ignore[attr-defined]


def _install(state: _State) -> None:
    warnings.filters, warnings.showwarning, warnings._showwarnmsg_impl = state  # type: ignore[attr-defined]
    # Registries of "already shown" locations are only valid for one filter list.
    warnings._filters_mutated()  # type: ignore[attr-defined]


def _same(a: _State, b: _State) -> bool:
    return a[0] is b[0] and a[1] is b[1] and a[2] is b[2]


class WarningsState:
    """One test's warnings globals, swapped in for each step of its code."""

    __slots__ = ("_outside", "_own")

    def __init__(self) -> None:
        self._own: _State | None = None  # None until the test's code changes them
        self._outside: _State | None = None

    def enter(self) -> None:
        self._outside = _current()
        if self._own is not None:
            _install(self._own)

    def exit(self) -> None:
        outside = self._outside
        assert outside is not None
        self._outside = None
        current = _current()
        if self._own is None and _same(current, outside):
            return  # the test has not touched the warnings machinery
        self._own = current
        _install(outside)


class TaskWarnings:
    """The warnings globals for each step of a task that an overlapping test started."""

    __slots__ = ("_installed", "_outside", "_own", "_test")

    def __init__(self, test: WarningsState) -> None:
        self._test = test
        self._own: _State | None = None  # set once the task's code changes them
        self._outside: _State | None = None
        self._installed: _State | None = None

    def enter(self) -> None:
        self._outside = _current()
        state = self._own if self._own is not None else self._test._own
        self._installed = state
        if state is not None:
            _install(state)

    def exit(self) -> None:
        outside = self._outside
        assert outside is not None
        self._outside = None
        current = _current()
        installed = self._installed if self._installed is not None else outside
        if not _same(current, installed):
            self._own = current  # its own catch_warnings, say: kept for its next step
        if not _same(current, outside):
            _install(outside)
