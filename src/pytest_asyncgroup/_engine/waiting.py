"""The tests a worker loop has been given and not yet started, in submission order.

Each waits with its batch number (``batches.py``) and its claim (keys, alone);
tests leave from the front as they start, or from anywhere when the scheduler
takes them back for another worker (``withdraw``). Since batch numbers never
decrease in submission order, the first waiting test's batch is the next one.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator

import pytest

from .._core.admission import Claim

KeyWait = tuple[str, float, float]
"""A wait for a resource key: the key, since when, until when (epoch seconds)."""


class Waiting:
    """The waiting queue; see module docstring."""

    def __init__(self) -> None:
        # Tests leave from the front as they start: an OrderedDict finds its first
        # entry at once, where a dict scans past every slot emptied before it.
        self._queue: OrderedDict[pytest.Item, tuple[int, Claim]] = OrderedDict()
        self._key_waits: dict[pytest.Item, tuple[str, float]] = {}

    def __bool__(self) -> bool:
        return bool(self._queue)

    def __iter__(self) -> Iterator[pytest.Item]:
        return iter(self._queue)

    def __contains__(self, item: object) -> bool:
        return item in self._queue

    def add(self, item: pytest.Item, batch: int, claim: Claim) -> None:
        self._queue[item] = (batch, claim)

    def head(self) -> tuple[pytest.Item, int, Claim] | None:
        """The next test to start, its batch and claim."""
        for item, (batch, claim) in self._queue.items():
            return item, batch, claim
        return None

    def of_batch(self, batch: int) -> Iterator[tuple[pytest.Item, Claim]]:
        """The waiting tests of ``batch`` (the front of the queue), in order."""
        for item, (number, claim) in self._queue.items():
            if number != batch:
                return
            yield item, claim

    def note_key_wait(self, item: pytest.Item, key: str) -> None:
        """``item`` could not start for ``key`` (the first such key is kept)."""
        self._key_waits.setdefault(item, (key, time.time()))

    def start(self, item: pytest.Item) -> tuple[int, Claim, KeyWait | None]:
        """Take ``item`` off to start it: its batch, claim, and key wait if it had one."""
        batch, claim = self._queue.pop(item)
        wait = self._key_waits.pop(item, None)
        return batch, claim, None if wait is None else (*wait, time.time())

    def withdraw(self, items: Iterable[pytest.Item], *, whole: bool) -> list[pytest.Item]:
        """Take those of ``items`` that wait, except the head (the next to start);
        ``whole``: all of them, or none if one is the head or not waiting."""
        head = next(iter(self._queue), None)
        if whole:
            items = list(items)
            if any(item is head or item not in self._queue for item in items):
                return []
        taken = [
            item for item in items if item is not head and self._queue.pop(item, None) is not None
        ]
        for item in taken:
            self._key_waits.pop(item, None)
        return taken

    def clear(self) -> list[pytest.Item]:
        """Drop every waiting test (the run stops); return them."""
        dropped = list(self._queue)
        self._queue.clear()
        self._key_waits.clear()
        return dropped
