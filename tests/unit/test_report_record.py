"""What a teardown report carries of the worker loop's record, and how it is read.

A report carries only the fields that were recorded (most tests have one or
none); what reads it on the other side (the observer, in one process or the
controller) must see the same test as from a report with every field.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_asyncgroup._engine import TestRecord
from pytest_asyncgroup._session.engine_hooks import recorded
from pytest_asyncgroup._session.observer import RunObserver
from pytest_asyncgroup._session.report import REPORT_ATTRIBUTE


def test_a_test_that_ran_alone_carries_only_why() -> None:
    assert recorded(TestRecord("t.py::test", alone="sync"), []) == {"alone": "sync"}


def test_a_test_with_nothing_recorded_carries_nothing() -> None:
    assert recorded(TestRecord("t.py::test"), []) == {}


def test_every_recorded_field_is_carried() -> None:
    record = TestRecord(
        "t.py::test",
        waits=[("db", 1.0, 2.0)],
        held=(3.0, 4.0),
        blocked=0.25,
        alone="serial",
        process_wide="os.environ['X']",
        held_others=True,
    )
    touches = [("file", "/tmp/x", True, "t.py:3", False)]
    assert recorded(record, touches) == {
        "waits": [["db", 1.0, 2.0]],
        "held": [3.0, 4.0],
        "blocked": 0.25,
        "alone": "serial",
        "process_wide": "os.environ['X']",
        "held_others": True,
        "touches": [["file", "/tmp/x", True, "t.py:3", False]],
    }


def _observed(data: dict[str, Any] | None) -> Any:
    observer = RunObserver(groups=lambda: 0, block_threshold=0.1, timeline=None)
    for when, start, stop in (("setup", 1.0, 1.5), ("call", 1.5, 2.0), ("teardown", 2.0, 2.5)):
        report = pytest.TestReport(
            "t.py::test", ("t.py", 1, "test"), {}, "passed", None, when, [], 0.5, start, stop
        )
        if when == "teardown" and data is not None:
            setattr(report, REPORT_ATTRIBUTE, data)
        observer.pytest_runtest_logreport(report)
    (span,) = observer.spans()
    return span, observer.durations(), observer.process_wide()


def test_the_observer_reads_a_carried_record_as_one_with_every_field() -> None:
    full = {
        "waits": [],
        "held": None,
        "blocked": 0.0,
        "alone": "sync",
        "process_wide": "",
        "held_others": False,
        "touches": [],
    }
    carried = recorded(TestRecord("t.py::test", alone="sync"), [])
    assert _observed(carried) == _observed(full)
    span, _, _ = _observed(carried)
    assert (span.alone, span.held, span.blocked, span.waits) == ("sync", None, 0.0, [])
