"""Work stealing: which worker gives which tests to one running low (pure).

The plan (``plan.py``) places every group once, before any test runs. Estimates
are wrong, workers crash and are replaced: a worker can run out while another
still has plenty. ``Balance`` answers, each time a worker runs low, whom to ask
for what:

1. *Keyless tests first*: the worker with the most keyless tests left is asked
   for half the difference (with the worker running low) of those it has not
   started, the last in collection order (they would start last there).
2. *Else a whole keyed group*, none of whose tests has started, from the worker
   with the most tests left: the largest group of at most half the difference in
   tests left, so the imbalance never flips; the later on ties. The giver gives
   all of it or none (``Ask.whole``), so a group still runs on one worker.
3. An ask that came back empty (its tests started meanwhile) is not made again
   as it was; the next different ask may succeed.

Workers are any hashable handle (the xdist scheduler passes its
``WorkerController`` objects); tests are indices into the collection.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Generic, TypeVar

from .plan import Placement

Worker = TypeVar("Worker", bound=Hashable)


@dataclass(frozen=True)
class Ask(Generic[Worker]):
    """Ask ``giver`` for ``tests``; with ``whole``, for all of them or none."""

    giver: Worker
    tests: list[int]
    whole: bool


class Balance(Generic[Worker]):
    """What may move between workers, and the next ask for a worker running low."""

    def __init__(self) -> None:
        self._movable: frozenset[int] = frozenset()
        """Tests in no keyed group: they may move alone, until they start."""
        self._groups: list[tuple[int, ...]] = []
        """Groups of tests sharing keys: each may move whole, until one of its tests starts."""
        self._group_of: dict[int, int] = {}
        self._started: set[int] = set()
        self._started_groups: set[int] = set()
        self._movable_on: dict[Worker, int] = {}
        """How many movable tests each worker holds (asked after each finished test)."""
        self._refused: list[int] = []

    def plan(self, placements: Iterable[Placement[int]]) -> None:
        """Learn the groups of the run's plan."""
        placements = list(placements)
        self._movable = frozenset(
            test
            for placement in placements
            if not placement.group.keys
            for test in placement.group.tests
        )
        self._groups = [
            tuple(sorted(placement.group.tests)) for placement in placements if placement.group.keys
        ]
        self._group_of = {test: group for group, tests in enumerate(self._groups) for test in tests}

    # --- what happens to tests --------------------------------------------------------

    def joined(self, worker: Worker) -> None:
        self._movable_on[worker] = 0

    def left(self, worker: Worker) -> None:
        self._movable_on.pop(worker, None)

    def sent(self, worker: Worker, tests: Iterable[int]) -> None:
        """``tests`` (new to ``worker``) were sent to it."""
        self._movable_on[worker] += sum(1 for test in tests if test in self._movable)

    def gone(self, worker: Worker, tests: Iterable[int]) -> None:
        """``tests`` (held by ``worker``) finished there or were given back."""
        if worker in self._movable_on:
            self._movable_on[worker] -= sum(1 for test in tests if test in self._movable)

    def started(self, test: int) -> None:
        self._started.add(test)
        group = self._group_of.get(test)
        if group is not None:
            self._started_groups.add(group)

    def has_started(self, test: int) -> bool:
        return test in self._started

    def refused(self, ask: Ask[Worker]) -> None:
        """``ask`` came back empty: do not make it again as it was (rule 3)."""
        self._refused = list(ask.tests)

    # --- the next ask -------------------------------------------------------------------

    def ask_for(
        self, idle: Worker, others: Sequence[Worker], held: Mapping[Worker, Set[int]]
    ) -> Ask[Worker] | None:
        """What to ask of ``others`` (in worker order) for ``idle``, if anything;
        ``held`` is every worker's unfinished tests."""
        if not others:
            return None
        return self._keyless_ask(idle, others, held) or self._group_ask(idle, others, held)

    def _keyless_ask(
        self, idle: Worker, others: Sequence[Worker], held: Mapping[Worker, Set[int]]
    ) -> Ask[Worker] | None:
        busiest = max(others, key=self._movable_on.__getitem__)  # the first on ties
        left = len(held[idle])
        if self._movable_on[busiest] - left < 2:
            return None  # the cheap check first: this runs after each of idle's tests
        waiting = sorted(
            test for test in held[busiest] if test in self._movable and test not in self._started
        )
        count = (len(waiting) - left) // 2
        if count < 1 or waiting[-count:] == self._refused:
            return None
        return Ask(busiest, waiting[-count:], whole=False)

    def _group_ask(
        self, idle: Worker, others: Sequence[Worker], held: Mapping[Worker, Set[int]]
    ) -> Ask[Worker] | None:
        if len(self._started_groups) == len(self._groups):
            return None  # every group has started somewhere: none can move
        busiest = max(others, key=lambda worker: len(held[worker]))
        tests = held[busiest]
        difference = len(tests) - len(held[idle])
        best: tuple[int, int] | None = None
        for group, members in enumerate(self._groups):
            if group in self._started_groups or members[0] not in tests:
                continue
            if 2 * len(members) <= difference and (best is None or len(members) >= best[0]):
                best = (len(members), group)
        if best is None:
            return None
        asked = list(self._groups[best[1]])
        return None if asked == self._refused else Ask(busiest, asked, whole=True)
