"""Seeing the run: the summary, ``--asyncgroup-timeline`` (pytest glue of ``_runstats``).

Where reports arrive (one process, or the controller), :class:`RunObserver`
collects every test's phases and what the worker loop recorded about it (the
report attribute of ``report.py``, set by ``engine_hooks.py``), prints the
summary after the results, and writes the timeline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from .. import _compat
from .._core.gcpause import collector_paused
from .._core.plan import OutsizedGroup
from .._core.runstats import (
    Phase,
    TestSpan,
    count,
    outsized_lines,
    run_stats,
    summary_lines,
    trace_events,
)
from .report import REPORT_ATTRIBUTE


class RunObserver:
    """Where reports arrive: collects each test's phases, then summarises.

    During the run it keeps, per test, one tuple of strings and floats (worker,
    first start, last stop, seconds), which the garbage collector stops
    tracking: a suite of many short tests would otherwise pay for a growing heap
    of span objects in every collection. Each phase is kept only for the
    timeline. The spans are built once, at the end.
    """

    def __init__(
        self,
        *,
        groups: Callable[[], int],
        block_threshold: float,
        timeline: tuple[str, Path] | None,
        concurrency: int = 0,
        outsized: Callable[[], Sequence[OutsizedGroup[str]]] = lambda: (),
    ) -> None:
        """``timeline``: the path as the user gave it (to show), and where to write;
        ``concurrency``: the per-worker cap, for its share of the time; ``outsized``:
        the plan's groups that hold more than a worker's share."""
        self._groups = groups
        self._concurrency = concurrency
        self._outsized = outsized
        self._block_threshold = block_threshold
        self._timeline = timeline
        self._tests: dict[str, tuple[str, float, float, float]] = {}
        self._finished: set[str] = set()  # tests whose teardown reported
        self._phases: list[tuple[str, str, float, float, str]] | None = [] if timeline else None
        self._records: list[tuple[str, Any]] = []
        self._spans: list[TestSpan] | None = None
        self._written: str | None = None
        self._not_written: OSError | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when not in ("setup", "call", "teardown") or not report.start:
            return  # a crash or "not run" report made by the scheduler: no timing
        nodeid, start, stop = report.nodeid, report.start, report.stop
        known = self._tests.get(nodeid)
        if known is None:
            self._tests[nodeid] = (_compat.report_worker(report), start, stop, report.duration)
        else:  # its next phase (or a re-run's)
            worker, first, last, seconds = known
            self._tests[nodeid] = (
                worker,
                min(first, start),
                max(last, stop),
                seconds + report.duration,
            )
        if report.when == "teardown":
            self._finished.add(nodeid)
        if self._phases is not None:
            self._phases.append((nodeid, report.when, start, stop, report.outcome))
        data = getattr(report, REPORT_ATTRIBUTE, None)
        if isinstance(data, dict):
            self._records.append((report.nodeid, data))

    def spans(self) -> list[TestSpan]:
        """One span per test that reported, built from what was collected."""
        if self._spans is None:
            # A test cut short (no teardown report) was in flight until its
            # worker stopped reporting: its span runs to that worker's last report.
            last_report: dict[str, float] = {}
            for worker, _, stop, _ in self._tests.values():
                last_report[worker] = max(stop, last_report.get(worker, stop))
            spans = {
                nodeid: TestSpan(
                    nodeid, worker, start, stop if nodeid in self._finished else last_report[worker]
                )
                for nodeid, (worker, start, stop, _) in self._tests.items()
            }
            if self._phases is not None:
                phases: dict[str, list[Phase]] = {}
                for nodeid, when, start, stop, outcome in self._phases:
                    phases.setdefault(nodeid, []).append(Phase(when, start, stop, outcome))
                for nodeid, own in phases.items():
                    spans[nodeid].phases = own
            for nodeid, data in self._records:
                span = spans[nodeid]
                span.waits = [
                    *span.waits,
                    *((str(k), float(a), float(b)) for k, a, b in data.get("waits", ())),
                ]
                held = data.get("held")
                span.held = (float(held[0]), float(held[1])) if held else None
                span.blocked = max(span.blocked, float(data.get("blocked", 0.0)))
                span.alone = str(data.get("alone") or "")
                if data.get("held_others"):
                    span.held_others = str(data.get("process_wide") or "")
            self._spans = list(spans.values())
        return self._spans

    def durations(self) -> dict[str, float]:
        """Each finished test's setup, call and teardown durations added up, less the
        time a worker's last test waited in its teardown for more work (not its own
        time). A test cut short (Ctrl-C, a crash) has no duration to remember."""
        totals = {
            nodeid: seconds
            for nodeid, (_, _, _, seconds) in self._tests.items()
            if nodeid in self._finished
        }
        for nodeid, data in self._records:
            held = data.get("held")
            if held and nodeid in totals:
                totals[nodeid] -= float(held[1]) - float(held[0])
        return totals

    def process_wide(self) -> dict[str, str]:
        """Each finished test's first change that cannot be per test; "" for none."""
        changes = dict.fromkeys(self._finished, "")
        for nodeid, data in self._records:
            if nodeid in changes and data.get("process_wide"):
                changes[nodeid] = str(data["process_wide"])
        return changes

    def pytest_sessionfinish(self) -> None:
        if self._timeline and self._tests:
            shown, path = self._timeline
            with collector_paused():
                events = trace_events(self.spans())
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({"traceEvents": events, "displayTimeUnit": "ms"}))
            except OSError as error:  # checked at the start; the disk can still fail
                self._not_written = error
            else:
                self._written = shown

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self._tests:
            return
        with collector_paused():
            stats = run_stats(
                self.spans(),
                groups=self._groups(),
                block_threshold=self._block_threshold,
                cap=self._concurrency,
            )
        terminalreporter.write_sep("=", "asyncgroup summary")
        for line in summary_lines(stats, self._block_threshold):
            terminalreporter.write_line(line)
        for line in outsized_lines(self._outsized(), self.spans(), stats.wall):
            terminalreporter.write_line(line, yellow=True)
        cut_short = len(self._tests) - len(self._finished)
        if cut_short:
            terminalreporter.write_line(
                f"{count(cut_short, 'test')} cut short (Ctrl-C, pytest.exit(), a crash): "
                "counted above as running until their worker's last report"
            )
        if self._written is not None:
            terminalreporter.write_line(
                f"timeline: {self._written} (open in https://ui.perfetto.dev or chrome://tracing)"
            )
        if self._not_written is not None:
            terminalreporter.write_line(
                f"timeline: not written: {self._not_written}", red=True, bold=True
            )
