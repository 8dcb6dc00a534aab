"""Ctrl-C while the worker loop runs: stop as plain pytest does.

In plain pytest, SIGINT raises ``KeyboardInterrupt`` wherever the test is; its
phase makes no report, the end of the session tears down what was set up, and
the run exits with status 2. Under the worker loop most tests are waiting on
the loop when the signal comes, and asyncio's own handler (Python 3.11+) would
only cancel the loop's main task, leaving every test in flight to fail with a
bare ``CancelledError``. So while the loop runs, SIGINT is ours:

- while a test's own synchronous code runs (a sync test, a fixture), it raises
  ``KeyboardInterrupt`` there, as in plain pytest; the loop then stops the others;
- otherwise the loop interrupts every test in flight at its next pass
  (``WorkerLoop.interrupt``, rule 5 of ``loop.py``);
- a second Ctrl-C raises at once, wherever it lands.

A SIGINT handler someone else installed (not Python's default) is left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Coroutine, Iterator
from types import FrameType
from typing import Any

from .. import _compat
from .bridge import in_bridge
from .loop import WorkerLoop


def run_interruptible(
    loop: WorkerLoop,
    main: Coroutine[Any, Any, None],
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> None:
    """``asyncio.run(main)`` (on a loop ``loop_factory`` makes, if given) with
    Ctrl-C handled for ``loop``; once it has returned (or failed) after Ctrl-C or
    ``pytest.exit()``, raise that for pytest."""
    try:
        with _sigint_interrupts(loop):
            _compat.run_on_new_loop(main, loop_factory)
    finally:
        if loop.aborted is not None:
            raise loop.aborted  # an error tearing down is its context


@contextlib.contextmanager
def _sigint_interrupts(loop: WorkerLoop) -> Iterator[None]:
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if loop.aborted is not None or in_bridge():
            raise KeyboardInterrupt
        loop.interrupt_soon()

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:  # unless a test installed a handler of its own meanwhile
        if signal.getsignal(signal.SIGINT) is on_sigint:
            signal.signal(signal.SIGINT, signal.default_int_handler)
