"""The plan: which worker runs which group (pure; no pytest, no xdist).

Groups are placed longest first, each on the worker with the least estimated
work so far (the "longest processing time first" rule). A group's estimate is
the sum of its tests' estimates, and a test's estimate is its duration in the
previous run (pytest's cache). A test with no history counts as the mean of
those that have one, or as 1 when none has: without history, groups are
balanced by test count. Ties go to the earlier group and the lower worker, so
equal inputs give an equal plan.

Worked example, two workers, no history::

    groups: A(3 tests) B(1) C(2) D(1)
    A -> w0 (load 3)   C -> w1 (2)   B -> w1 (3)   D -> w0 (4)

The sum is a proxy for the work a group brings, not for its wall time on a
worker that runs its tests concurrently; it is what keeps one worker from
getting every long group.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from .grouping import Group, group_tests
from .keys import Declaration

TestId = TypeVar("TestId", bound=Hashable)


@dataclass(frozen=True)
class Placement(Generic[TestId]):
    """One group, its estimated duration, and the position of the worker it goes to."""

    group: Group[TestId]
    estimate: float
    worker: int


def estimate_tests(tests: Iterable[TestId], history: Mapping[TestId, float]) -> dict[TestId, float]:
    """Each test's expected duration: its history, else the mean of known ones, else 1."""
    tests = list(tests)
    known = [history[test] for test in tests if test in history]
    default = sum(known) / len(known) if known else 1.0
    return {test: history.get(test, default) for test in tests}


def place(
    groups: Sequence[Group[TestId]], workers: int, estimates: Mapping[TestId, float]
) -> list[Placement[TestId]]:
    """Assign each group to a worker position; returned in the order of ``groups``."""
    if workers < 1:
        raise ValueError(f"no workers to place {len(groups)} groups on")
    sized = [
        (sum(estimates[test] for test in group.tests), position, group)
        for position, group in enumerate(groups)
    ]
    # The least loaded worker, lowest position first on ties: the heap's top.
    loads = [(0.0, worker) for worker in range(workers)]
    chosen: dict[int, tuple[float, int]] = {}
    for estimate, position, _ in sorted(sized, key=lambda entry: (-entry[0], entry[1])):
        load, worker = loads[0]
        heapq.heapreplace(loads, (load + estimate, worker))
        chosen[position] = (estimate, worker)
    return [Placement(group, *chosen[position]) for _, position, group in sized]


@dataclass(frozen=True)
class RunPlan:
    """Where every test goes: groups placed on workers, and the serial tests."""

    placements: list[Placement[int]]
    serial: list[int]
    """Indices of ``serial`` tests: held until all else is done, then run alone."""

    def per_worker(self, workers: int) -> list[list[int]]:
        """Each worker position's test indices, in collection order."""
        assigned: list[list[int]] = [[] for _ in range(workers)]
        for placement in self.placements:
            assigned[placement.worker].extend(placement.group.tests)
        return [sorted(indices) for indices in assigned]


def plan_run(
    declarations: Sequence[Declaration],
    history: Mapping[int, float],
    per_worker_keys: Iterable[str],
    workers: int,
) -> RunPlan:
    """The plan for tests ``0..n-1`` (collection indices) with their declarations.

    ``history`` maps a test's index to its duration in the previous run. Both the
    scheduler and ``--asyncgroup-plan`` call this, so they show the same plan.
    """
    serial = [i for i, declaration in enumerate(declarations) if declaration.serial]
    skip = set(serial)
    keys = {i: d.keys for i, d in enumerate(declarations) if i not in skip}
    groups = group_tests(keys, frozenset(per_worker_keys))
    return RunPlan(place(groups, workers, estimate_tests(keys, history)), serial)


def keyed_groups(placements: Iterable[Placement[TestId]]) -> int:
    """How many of the placed groups are tests sharing keys (not single keyless tests)."""
    return sum(1 for placement in placements if placement.group.keys)


@dataclass(frozen=True)
class OutsizedGroup(Generic[TestId]):
    """A group whose estimated work is more than one worker's share of the run's.

    A group runs on one worker, so the run cannot end before that worker has
    run it, however the rest is placed: with 2,000 tests in one group and 8
    workers, that worker is the run. Worked example, two workers, no history::

        groups: orders+stock(30 tests)  10 keyless tests
        run 40, a worker's share 20: orders+stock holds 75%, outsized
    """

    keys: tuple[str, ...]
    tests: tuple[TestId, ...]
    estimate: float
    share: float
    """The group's part of the run's estimated work (0 to 1)."""
    workers: int


def outsized_groups(
    placements: Sequence[Placement[TestId]], workers: int
) -> list[OutsizedGroup[TestId]]:
    """Groups sharing keys that hold more than ``1 / workers`` of the estimated work,
    largest first. None with one worker: its share is the whole run."""
    total = sum(placement.estimate for placement in placements)
    if workers < 2 or total <= 0:
        return []
    found = [
        OutsizedGroup(p.group.keys, p.group.tests, p.estimate, p.estimate / total, workers)
        for p in placements
        if p.group.keys and p.estimate > total / workers
    ]
    return sorted(found, key=lambda group: -group.estimate)
