"""A SIGINT or SIGTERM handler that a test installs is that test's own.

Servers install handlers for the signals that stop them while they serve and
put back, when they stop, the ones they found (uvicorn's
``Server.capture_signals``). One test at a time, that nests. Overlapping, the
servers stop in another order than they started: the last to stop puts back a
handler of a server already stopped, or the default while another still
serves. After uvicorn's websocket tests every process that ran them had a dead
server's ``handle_exit`` for both signals, so Ctrl-C and SIGTERM no longer
stopped it; a signal a test raised for its own server went to another's, or
killed the worker.

So while the engine serves (in the main thread, where handlers are set),
``signal.signal`` and ``signal.getsignal`` called from a test's code
(``per_test.py``) for SIGINT or SIGTERM read and set that test's own handler,
which starts as the process's handler of before. When the test ends, a handler
it put back is forgotten; one it left in place becomes the process's, as in a
plain run. The process's handler for the signal becomes :meth:`TestSignals.deliver`,
which hands a signal to the test whose code it interrupts (a test's
``signal.raise_signal``, ``os.kill(os.getpid(), ...)``) if that test set a
handler of its own, and otherwise to the process's handler of before (for
SIGINT the engine's Ctrl-C handling, ``interrupt.py``; for SIGTERM its default,
which ends the process). Code outside every test (a session fixture) sets the
process's handlers, as in a plain run.

Worked example (uvicorn's servers A and B, overlapping)::

    A starts: signal(SIGTERM, A.handle_exit) -> returns SIG_DFL   (A's own)
    B starts: signal(SIGTERM, B.handle_exit) -> returns SIG_DFL   (B's own)
    A stops:  signal(SIGTERM, SIG_DFL)                            (A's own)
    B: raise_signal(SIGTERM)        -> B.handle_exit               (B's code runs)
    kill -TERM <pid>, loop idle     -> SIG_DFL: the process ends, as it would
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from functools import partial
from types import FrameType
from typing import Any, TypeAlias

from . import per_test

Handler: TypeAlias = "Callable[[int, FrameType | None], Any] | int | signal.Handlers | None"

PER_TEST = frozenset({signal.SIGINT, signal.SIGTERM})
"""The signals whose handlers are per test: those that stop a server, or the run."""

_ORIGINAL_SIGNAL = signal.signal
_ORIGINAL_GETSIGNAL = signal.getsignal


class TestSignals:
    """The tests' own handlers of :data:`PER_TEST` signals; see module docstring."""

    __test__ = False

    def __init__(self) -> None:
        self.before: dict[int, Handler] = {}
        """The process's handler of each signal when the engine took it."""
        self._own: dict[per_test.TestContext, dict[int, tuple[Handler, Handler]]] = {}
        """Per test, per signal: its handler, and the process's when it first set one."""

    def _ours(self, signalnum: object) -> per_test.TestContext | None:
        """The test whose handler of ``signalnum`` a call from here reads or sets."""
        if signalnum not in PER_TEST or threading.current_thread() is not threading.main_thread():
            return None
        return per_test.current()

    def set(self, signalnum: int, handler: Handler) -> Handler:
        """``signal.signal``, for code in the main thread."""
        test = self._ours(signalnum)
        if test is None:
            return _ORIGINAL_SIGNAL(signalnum, handler)
        if not (callable(handler) or handler in (signal.SIG_DFL, signal.SIG_IGN)):
            return _ORIGINAL_SIGNAL(signalnum, handler)  # its TypeError
        own = self._own.get(test)
        if own is None:
            own = self._own[test] = {}
            test.at_end(partial(self._forget, test))
        previous, found = own.get(signalnum) or (self._process_handler(signalnum),) * 2
        own[signalnum] = (handler, found)
        self._take(signalnum)
        return previous

    def _forget(self, test: per_test.TestContext) -> None:
        """``test`` has ended: a handler it set and did not put back stays, as the
        process's (as in a plain run, where nothing put it back either)."""
        for signalnum, (handler, found) in self._own.pop(test, {}).items():
            if handler != found:
                self.before[signalnum] = handler

    def get(self, signalnum: int) -> Handler:
        """``signal.getsignal``."""
        test = self._ours(signalnum)
        own = self._own.get(test) if test is not None else None
        if own is not None and signalnum in own:
            return own[signalnum][0]
        if test is not None:
            return self._process_handler(signalnum)
        return _ORIGINAL_GETSIGNAL(signalnum)

    def _process_handler(self, signalnum: int) -> Handler:
        """The process's handler of ``signalnum``, as its tests see it."""
        if signalnum in self.before:
            return self.before[signalnum]
        return _ORIGINAL_GETSIGNAL(signalnum)

    def _take(self, signalnum: int) -> None:
        """Deliver ``signalnum`` through :meth:`deliver` from now on."""
        if signalnum not in self.before:
            self.before[signalnum] = _ORIGINAL_SIGNAL(signalnum, self.deliver)

    def deliver(self, signalnum: int, frame: FrameType | None) -> None:
        """The process's handler of a :data:`PER_TEST` signal a test has set."""
        test = per_test.current()
        own = self._own.get(test) if test is not None else None
        handler = own[signalnum][0] if own is not None and signalnum in own else None
        if handler is None or handler is signal.default_int_handler or handler == signal.SIG_DFL:
            handler = self.before.get(signalnum, signal.SIG_DFL)  # as if it had set none
        if handler == signal.SIG_IGN:
            return
        if callable(handler):
            handler(signalnum, frame)
            return
        if handler == signal.SIG_DFL or handler is None:  # (None: set outside Python)
            # What the default does: end the process (SIGINT: KeyboardInterrupt).
            if signalnum == signal.SIGINT:
                raise KeyboardInterrupt
            _ORIGINAL_SIGNAL(signalnum, signal.SIG_DFL)
            os.kill(os.getpid(), signalnum)

    def restore(self) -> None:
        """Put back the process's handlers, unless code outside every test replaced ours."""
        for signalnum, handler in self.before.items():
            if _ORIGINAL_GETSIGNAL(signalnum) == self.deliver:
                _ORIGINAL_SIGNAL(signalnum, handler)
        self.before.clear()
        self._own.clear()


@contextlib.contextmanager
def signals_per_test() -> Iterator[TestSignals]:
    """Per-test handlers for the ``with`` block (in the main thread; elsewhere nothing)."""
    signals = TestSignals()
    if threading.current_thread() is not threading.main_thread():
        yield signals
        return
    signal.signal = signals.set
    signal.getsignal = signals.get
    try:
        yield signals
    finally:
        signal.signal = _ORIGINAL_SIGNAL
        signal.getsignal = _ORIGINAL_GETSIGNAL
        signals.restore()
