"""What the run looked like: the summary's numbers and the timeline (pure).

Input is one :class:`TestSpan` per test, built from its reports (when it
started and stopped, on which worker, and each phase for the timeline) plus
what the worker loop recorded about it (waits on keys, time held waiting for
more work, the longest stretch its code held the loop). Times are
``time.time()`` seconds, comparable across workers on one machine.

A test is *active* from the start of its setup to the end of its teardown,
less the time it was held as a worker's last test waiting for more work.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .apart import advice
from .plan import OutsizedGroup


@dataclass
class Phase:
    when: str
    start: float
    stop: float
    outcome: str


@dataclass(slots=True)
class TestSpan:
    """One test as the summary and the timeline see it."""

    __test__ = False

    nodeid: str
    worker: str
    start: float
    """The start of its first phase."""
    stop: float
    """The end of its last phase."""
    phases: Sequence[Phase] = ()
    """Each phase, for the timeline (the summary needs only ``start`` and ``stop``)."""
    waits: Sequence[tuple[str, float, float]] = ()
    held: tuple[float, float] | None = None
    blocked: float = 0.0
    alone: str = ""
    """Why it ran alone in its worker, if it did (``apart.py``)."""
    held_others: str = ""
    """The process-wide change it made that held the tests beside it still, if any."""

    def active(self) -> list[tuple[float, float]]:
        """The intervals the test was running (its hold cut out)."""
        start, stop = self.start, self.stop
        if self.held is None:
            return [(start, stop)]
        hold_start, hold_stop = max(self.held[0], start), min(self.held[1], stop)
        pieces = [(start, hold_start), (hold_stop, stop)]
        return [(a, b) for a, b in pieces if b > a]


@dataclass
class WorkerStats:
    worker: str
    tests: int
    peak_in_flight: int
    busy: float
    alone: int = 0
    """Tests that ran alone in this worker."""
    at_cap: float = 0.0
    """Seconds this worker had as many tests in flight as its cap allows."""


@dataclass
class RunStats:
    wall: float
    groups: int
    tests: int
    workers: list[WorkerStats]
    parallelism: float
    key_waits: list[tuple[str, float, int]]
    """``(key, total seconds waited, tests that waited)``, longest first."""
    blocked: list[tuple[str, float]]
    """``(nodeid, seconds)`` of tests that held the loop longer than the threshold."""
    alone: list[tuple[str, int]] = field(default_factory=list)
    """``(reason, tests)`` of tests that ran alone in their worker, most first."""
    held_others: list[tuple[str, int]] = field(default_factory=list)
    """``(change, tests)`` of tests whose process-wide change held others still, most first."""


def peak_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """Most intervals open at one instant (an end at t closes before a start at t)."""
    # (t, -1) sorts before (t, 1): an end at t closes before a start at t.
    points = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    peak = current = 0
    for _, delta in points:
        current += delta
        peak = max(peak, current)
    return peak


def time_at_least(intervals: Iterable[tuple[float, float]], count: int) -> float:
    """Seconds during which at least ``count`` intervals were open at once."""
    points = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    total, current, since = 0.0, 0, 0.0
    for t, delta in points:
        if current >= count:
            total += t - since
        current += delta
        since = t
    return total


def union_length(intervals: Iterable[tuple[float, float]]) -> float:
    total = 0.0
    end = float("-inf")
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def run_stats(
    spans: Sequence[TestSpan], *, groups: int, block_threshold: float, cap: int = 0
) -> RunStats:
    """The summary's numbers. Wall time runs from the first test's start to the last
    test's end, so start-up and collection (xdist's workers) do not dilute it."""
    actives = [span.active() for span in spans]  # each span's, worked out once
    active = [interval for intervals in actives for interval in intervals]
    wall = max((b for _, b in active), default=0.0) - min((a for a, _ in active), default=0.0)
    by_worker: dict[str, list[tuple[float, float]]] = defaultdict(list)
    tests: dict[str, int] = defaultdict(int)
    alone: dict[str, int] = defaultdict(int)
    reasons: dict[str, int] = defaultdict(int)
    held_others: dict[str, int] = defaultdict(int)
    for span, intervals in zip(spans, actives, strict=True):
        by_worker[span.worker].extend(intervals)
        tests[span.worker] += 1
        if span.alone:
            alone[span.worker] += 1
            reasons[span.alone] += 1
        if span.held_others:
            held_others[span.held_others] += 1
    workers = [
        WorkerStats(
            worker=worker,
            tests=tests[worker],
            peak_in_flight=peak_overlap(own),
            busy=union_length(own),
            alone=alone[worker],
            at_cap=time_at_least(own, cap) if cap > 0 else 0.0,
        )
        for worker, own in sorted(by_worker.items())
    ]
    waited: dict[str, float] = defaultdict(float)
    waiting_tests: dict[str, int] = defaultdict(int)
    for span in spans:
        for key, start, stop in span.waits:
            waited[key] += stop - start
            waiting_tests[key] += 1
    key_waits = sorted(
        ((key, seconds, waiting_tests[key]) for key, seconds in waited.items()),
        key=lambda entry: (-entry[1], entry[0]),
    )
    blocked = sorted(
        ((s.nodeid, s.blocked) for s in spans if s.blocked > block_threshold),
        key=lambda entry: (-entry[1], entry[0]),
    )
    total = sum(b - a for a, b in active)
    return RunStats(
        wall=wall,
        groups=groups,
        tests=len(spans),
        workers=workers,
        parallelism=total / wall if wall > 0 else 0.0,
        key_waits=key_waits,
        blocked=blocked,
        alone=_most_first(reasons),
        held_others=_most_first(held_others),
    )


def _most_first(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda entry: (-entry[1], entry[0]))


def summary_lines(stats: RunStats, block_threshold: float) -> list[str]:
    lines = [
        f"{count(len(stats.workers), 'worker')}, {count(stats.groups, 'group')} sharing "
        f"keys, {count(stats.tests, 'test')}; tests ran for {stats.wall:.2f}s, "
        f"effective parallelism {stats.parallelism:.1f} (sum of test durations / that time)"
    ]
    for worker in stats.workers:
        alone = f", {worker.alone} ran alone" if worker.alone else ""
        at_cap = ""
        if worker.at_cap > 0 and worker.busy > 0:
            share = worker.at_cap / worker.busy
            at_cap = f", at the concurrency cap {share:.0%} of its busy time"
        lines.append(
            f"  {worker.worker}: {count(worker.tests, 'test')}, peak {worker.peak_in_flight} "
            f"in flight, busy {worker.busy:.2f}s of {stats.wall:.2f}s{alone}{at_cap}"
        )
    if stats.alone:
        lines.append("ran alone in their worker, by reason:")
        lines.extend(f"  {tests}: {reason}" for reason, tests in stats.alone[:5])
        if len(stats.alone) > 5:
            rest = sum(tests for _, tests in stats.alone[5:])
            lines.append(f"  {rest}: {len(stats.alone) - 5} other reasons")
    if stats.held_others:
        lines.append(
            "held the tests beside them still, by a change that cannot be per test (process-wide):"
        )
        lines.extend(f"  {tests}: {change}" for change, tests in stats.held_others[:5])
        if len(stats.held_others) > 5:
            rest = sum(tests for _, tests in stats.held_others[5:])
            lines.append(f"  {rest}: {len(stats.held_others) - 5} other changes")
    if stats.key_waits:
        waits = ", ".join(
            f"{key} {seconds:.2f}s ({count(waiting, 'test')})"
            for key, seconds, waiting in stats.key_waits[:3]
        )
        lines.append(f"longest waits for keys: {waits}")
    if stats.blocked:
        lines.append(
            f"blocked the event loop longer than {block_threshold:g}s "
            "(asyncgroup_block_threshold), stalling the tests beside them:"
        )
        lines.extend(f"  {nodeid}: {seconds:.2f}s" for nodeid, seconds in stats.blocked)
    workers = max(1, len(stats.workers))
    if stats.tests > 1 and stats.parallelism / workers < 1.5 and stats.alone:
        # The workers' loops added little over one test at a time per worker.
        reason, tests = stats.alone[0]
        per_worker = "" if workers == 1 else f" per worker (of {workers})"
        lines.append(
            f"effective parallelism under 1.5{per_worker} mainly because {tests} of "
            f"{count(stats.tests, 'test')} ran alone ({reason}): {advice(reason)}"
        )
    return lines


def outsized_lines(
    groups: Sequence[OutsizedGroup[str]], spans: Sequence[TestSpan], wall: float
) -> list[str]:
    """The plan against the run for each group that outgrew one worker's share, and
    what to do about it. ``groups`` name their tests by nodeid; ``wall`` is the run's
    (``RunStats.wall``)."""
    by_id = {span.nodeid: span for span in spans}
    lines: list[str] = []
    for group in groups:
        keys = ", ".join(group.keys[:5]) + (", ..." if len(group.keys) > 5 else "")
        ran = [by_id[test] for test in group.tests if test in by_id]
        actual = union_length(interval for span in ran for interval in span.active())
        where = ", ".join(sorted({span.worker for span in ran})) or "no worker"
        lines.append(
            f"one group holds {group.share:.0%} of the run's estimated work, more than a "
            f"worker's share ({1 / group.workers:.0%} of {group.workers}): keys {keys}, "
            f"{count(len(group.tests), 'test')}; it ran for {actual:.2f}s of the "
            f"{wall:.2f}s on {where}"
        )
    if groups:
        keys = " ".join(groups[0].keys[:5])
        lines.append(
            "  a group runs on one worker: if each worker can have its own copy of the "
            f"resource, list its keys in asyncgroup_per_worker (asyncgroup_per_worker = "
            f"{keys}), else split it into keys that fewer tests share"
        )
    return lines


def count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"


_COLOURS = {"passed": "good", "failed": "terrible", "skipped": "grey"}


def trace_events(spans: Sequence[TestSpan]) -> list[dict[str, Any]]:
    """Chrome trace events: a process per worker, a lane (thread) per concurrent test."""
    origin = min((_extent(span)[0] for span in spans), default=0.0)

    def micros(seconds: float) -> float:
        return round((seconds - origin) * 1e6, 3)

    events: list[dict[str, Any]] = []
    workers = sorted({span.worker for span in spans})
    for pid, worker in enumerate(workers, start=1):
        events.append(_meta("process_name", pid, 0, worker))
        own = [span for span in spans if span.worker == worker and span.phases]
        for span, lane in _lanes(own):
            slices = _slices(span)
            for name, category, start, stop, args in slices:
                events.append(
                    {
                        "name": name,
                        "cat": category,
                        "ph": "X",
                        "ts": micros(start),
                        "dur": round(max(micros(stop) - micros(start), 0.0), 3),
                        "pid": pid,
                        "tid": lane,
                        "args": args,
                        **({"cname": _COLOURS[args["outcome"]]} if "outcome" in args else {}),
                    }
                )
        for lane in sorted({lane for _, lane in _lanes(own)}):
            events.append(_meta("thread_name", pid, lane, f"lane {lane}"))
    return events


def _meta(kind: str, pid: int, tid: int, name: str) -> dict[str, Any]:
    return {"name": kind, "ph": "M", "pid": pid, "tid": tid, "args": {"name": name}}


def _extent(span: TestSpan) -> tuple[float, float]:
    return min([span.start, *(w[1] for w in span.waits)]), span.stop


def _lanes(spans: list[TestSpan]) -> list[tuple[TestSpan, int]]:
    """Each test on the lowest lane free for its whole extent (waits included)."""
    lanes_end: list[float] = []
    placed: list[tuple[TestSpan, int]] = []
    for span in sorted(spans, key=lambda s: (_extent(s)[0], s.nodeid)):
        start, stop = _extent(span)
        for lane, end in enumerate(lanes_end):
            if end <= start:
                lanes_end[lane] = stop
                placed.append((span, lane + 1))
                break
        else:
            lanes_end.append(stop)
            placed.append((span, len(lanes_end)))
    return placed


def _slices(span: TestSpan) -> list[tuple[str, str, float, float, dict[str, Any]]]:
    slices: list[tuple[str, str, float, float, dict[str, Any]]] = [
        (f"wait {key}", "wait", start, stop, {"key": key, "test": span.nodeid})
        for key, start, stop in span.waits
    ]
    for phase in span.phases:
        args = {"phase": phase.when, "outcome": phase.outcome}
        if span.alone:
            args["alone"] = span.alone
        if span.held_others:
            args["held_others"] = span.held_others
        pieces = [(phase.start, phase.stop)]
        if span.held is not None and phase.when == "teardown":
            pieces = [(phase.start, span.held[0]), (span.held[1], phase.stop)]
            slices.append(("waiting for more work", "hold", *span.held, {"test": span.nodeid}))
        slices.extend((span.nodeid, phase.when, a, b, args) for a, b in pieces if b >= a)
    slices.sort(key=lambda entry: entry[2])
    return slices
