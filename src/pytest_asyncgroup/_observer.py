"""Seeing the run: the summary, ``--asyncgroup-timeline`` (pytest glue of ``_runstats``).

Where tests run (one process, or each xdist worker), :class:`RecordAttacher`
adds what the worker loop recorded about a test to its teardown report as the
attribute ``asyncgroup``: plain JSON, so xdist carries it to the controller
with the report itself (no new event types). Where reports arrive (one process,
or the controller), :class:`RunObserver` collects every test's phases and that
record, prints the summary after the results, and writes the timeline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from . import _compat
from ._runstats import Phase, TestSpan, run_stats, summary_lines, trace_events
from .executor import RECORD

REPORT_ATTRIBUTE = "asyncgroup"


class RecordAttacher:
    """Where tests run: the loop's record of a test rides on its teardown report."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, Any]:
        report = yield
        record = item.stash.get(RECORD, None)
        if call.when == "teardown" and record is not None:
            setattr(
                report,
                REPORT_ATTRIBUTE,
                {
                    "waits": [list(wait) for wait in record.waits],
                    "held": list(record.held) if record.held else None,
                    "blocked": round(record.blocked, 6),
                },
            )
        return report


def held_seconds(report: pytest.TestReport) -> float:
    """How long a teardown report's test waited for more work (not its own time)."""
    data = getattr(report, REPORT_ATTRIBUTE, None)
    held = data.get("held") if isinstance(data, dict) else None
    return float(held[1]) - float(held[0]) if held else 0.0


class RunObserver:
    def __init__(
        self,
        *,
        groups: Callable[[], int],
        block_threshold: float,
        timeline: str | None,
    ) -> None:
        self._groups = groups
        self._block_threshold = block_threshold
        self._timeline = timeline
        self._spans: dict[str, TestSpan] = {}
        self._written: Path | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when not in ("setup", "call", "teardown") or not report.start:
            return  # a crash or "not run" report made by the scheduler: no timing
        span = self._spans.get(report.nodeid)
        if span is None:
            span = TestSpan(report.nodeid, _compat.report_worker(report))
            self._spans[report.nodeid] = span
        span.phases.append(Phase(report.when, report.start, report.stop, report.outcome))
        data = getattr(report, REPORT_ATTRIBUTE, None)
        if isinstance(data, dict):
            span.waits.extend((str(k), float(a), float(b)) for k, a, b in data.get("waits", ()))
            held = data.get("held")
            span.held = (float(held[0]), float(held[1])) if held else None
            span.blocked = max(span.blocked, float(data.get("blocked", 0.0)))

    def pytest_sessionfinish(self) -> None:
        if self._timeline and self._spans:
            path = Path(self._timeline)
            events = trace_events(list(self._spans.values()))
            path.write_text(json.dumps({"traceEvents": events, "displayTimeUnit": "ms"}))
            self._written = path

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self._spans:
            return
        stats = run_stats(
            list(self._spans.values()),
            groups=self._groups(),
            block_threshold=self._block_threshold,
        )
        terminalreporter.write_sep("=", "asyncgroup summary")
        for line in summary_lines(stats, self._block_threshold):
            terminalreporter.write_line(line)
        if self._written is not None:
            terminalreporter.write_line(
                f"timeline: {self._written} (open in https://ui.perfetto.dev or chrome://tracing)"
            )
