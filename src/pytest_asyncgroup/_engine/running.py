"""The tests a worker loop has in flight: each one's record, and what the loop
does to all of them at once (stop them, list them for the stall report)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from .._core.admission import Claim
from .deadlines import Clock
from .item import TestRecord
from .stalls import InFlight


@dataclass
class Running:
    """A test the loop has started: its claim, record and timeout clock."""

    item: pytest.Item
    claim: Claim
    record: TestRecord
    done_reported: bool = False
    left: bool = False
    """The test has counted itself out of its collectors (it is tearing them down, or done)."""
    clock: Clock = field(default_factory=Clock)


def interrupt_all(
    running: Mapping[asyncio.Task[None], Running], reason: str, *, aborted: bool
) -> set[asyncio.Task[None]]:
    """Cancel the tests in flight (not those tearing down), each with the exception
    it will fail with (``KeyboardInterrupt`` when the run is ``aborted``); their tasks."""
    cancelled = set()
    for task, test in running.items():
        record = test.record
        if record.started and not record.tearing_down and record.interruption is None:
            record.interruption = (
                KeyboardInterrupt()  # stops pytest's protocol where it is, as ABORTS do
                if aborted
                else pytest.fail.Exception(
                    f"cancelled by pytest-asyncgroup: the run is stopping ({reason})",
                    pytrace=False,
                )
            )
            task.cancel()
            cancelled.add(task)
    return cancelled


def in_flight(
    running: Mapping[asyncio.Task[None], Running], phases: Mapping[pytest.Item, str]
) -> list[InFlight]:
    """The tests started and not finished, for the stall report (any thread)."""
    now, clock = time.time(), time.perf_counter()
    return [
        InFlight(
            test.item.nodeid,
            phases.get(test.item, "setup"),
            now - (clock - test.record.started),
            task,
        )
        for task, test in list(running.items())
        # (A test that reported done and waits for more work is held, not stalled.)
        if test.record.started and not test.record.finished and not test.done_reported
    ]
