"""Hooks of a process whose tests run on the worker loop (one process, an xdist worker).

Registered only there, so a controller, or a run without ``--dist=asyncgroup``,
neither imports the engine nor pays for these hooks.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from .. import _compat
from .._engine import RECORD, TestRecord, async_fixture_shim, call_async_test, taken
from .report import REPORT_ATTRIBUTE


class EngineHooks:
    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        return True if call_async_test(pyfuncitem) else None

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_fixture_setup(
        self, fixturedef: Any, request: pytest.FixtureRequest
    ) -> Generator[None, Any, Any]:
        shim = async_fixture_shim(fixturedef, request)
        if shim is None:
            return (yield)
        with _compat.fixture_function_swapped(fixturedef, shim):
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, Any]:
        """The loop's record of a test rides on its teardown report (``report.py``)."""
        report = yield
        if call.when == "teardown":
            # Taken off the item: a finished test's record is not kept for the session.
            record = item.stash.get(RECORD, None)
            if record is not None:
                del item.stash[RECORD]
                touches = taken(item.nodeid)  # the doctor's (``touches.py``)
                data = recorded(record, touches)
                if data:
                    setattr(report, REPORT_ATTRIBUTE, data)
        return report


def recorded(record: TestRecord, touches: list[Any]) -> dict[str, Any]:
    """What the teardown report carries: only what was recorded (most tests have
    a field or none: a sync test's ``alone``), as every reader defaults the rest."""
    data: dict[str, Any] = {}
    if record.waits:
        data["waits"] = [list(wait) for wait in record.waits]
    if record.held:
        data["held"] = list(record.held)
    if record.blocked:
        data["blocked"] = round(record.blocked, 6)
    if record.alone:
        data["alone"] = record.alone
    if record.process_wide:
        data["process_wide"] = record.process_wide
        data["held_others"] = record.held_others
    if touches:
        data["touches"] = [list(touch) for touch in touches]
    return data
