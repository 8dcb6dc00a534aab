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

Not covered: tasks a test starts itself run their steps under the process's
state, so their warnings are not recorded for the test.
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
        if self._own is None and all(a is b for a, b in zip(current, outside, strict=True)):
            return  # the test has not touched the warnings machinery
        self._own = current
        _install(outside)
