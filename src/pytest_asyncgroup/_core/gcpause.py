"""Pausing and spacing Python's cyclic garbage collector where the run pays for it.

A step that allocates a few objects per test (the plan, the summary) sets off,
on a suite of thousands of tests, a full collection that walks the process's
whole heap (~40-80 ms at 5,000 tests) and frees nothing of the step's: its
objects are short-lived or kept, and free of cycles. Paused, the collection
runs later, where it would have run anyway, instead of while every worker
waits for the plan (or the run waits for its summary).

While tests overlap, each one in flight holds pytest's protocol suspended in
its greenlet: a few hundred objects (hook wrappers' generators, frames, its
fixtures' requests) that live as long as the test, well past the collector's
youngest generation. Collected every 700 allocations (2,000 on Python 3.13),
they survive two young collections and reach the oldest generation, and each
time enough have, a full collection walks the whole heap again: on 5,000
overlapping tests in one process, 10 full collections and 1.0-1.3 s of the
collector's time. With the youngest generation collected every 20,000
allocations instead, most of a test's objects go before they are promoted
(:class:`SpacedCollections`).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

_LOADED = gc.get_threshold()
"""The collector's thresholds when the plugin was loaded, before any conftest ran
(``plugin.py`` imports this module for that)."""

YOUNG_WHILE_OVERLAPPING = 20_000
"""Allocations between two collections of the youngest generation while tests overlap."""


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class SpacedCollections:
    """The collector's youngest generation collected less often while tests overlap.

    Only the first threshold changes, and only from the one in force when the
    plugin was loaded: thresholds a suite sets itself (a conftest, a test) are
    left as they are, as is a collector switched off. A test that runs alone
    runs under the usual thresholds, as in a plain run; so does the end of the
    run. Every cycle is still collected, a little later.
    """

    def __init__(self) -> None:
        self._spaced: tuple[int, int, int] | None = None

    def overlapping(self, overlapping: bool) -> None:
        """Tests are about to overlap (or one is about to run alone)."""
        if not overlapping:
            self.restore()
            return
        if self._spaced is not None or not gc.isenabled():
            return
        threshold = gc.get_threshold()
        if threshold != _LOADED or threshold[0] == 0 or threshold[0] >= YOUNG_WHILE_OVERLAPPING:
            return
        self._spaced = (YOUNG_WHILE_OVERLAPPING, threshold[1], threshold[2])
        gc.set_threshold(*self._spaced)

    def restore(self) -> None:
        """The usual thresholds again, unless code of the run set others meanwhile."""
        spaced, self._spaced = self._spaced, None
        if spaced is not None and gc.get_threshold() == spaced:
            gc.set_threshold(*_LOADED)
