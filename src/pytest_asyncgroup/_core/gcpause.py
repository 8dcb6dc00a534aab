"""Pausing Python's cyclic garbage collector around bulk work on the critical path.

A step that allocates a few objects per test (the plan, the summary) sets off,
on a suite of thousands of tests, a full collection that walks the process's
whole heap (~40-80 ms at 5,000 tests) and frees nothing of the step's: its
objects are short-lived or kept, and free of cycles. Paused, the collection
runs later, where it would have run anyway, instead of while every worker
waits for the plan (or the run waits for its summary).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
