"""The xdist scheduler for ``--dist=asyncgroup`` (runs in the controller process).

xdist calls it through its scheduler protocol (``xdist.scheduler.protocol``):
workers join (``add_node``), report their collection (``add_node_collection``),
finish tests (``mark_test_complete``) and leave or crash (``remove_node``).

What it does with that:

1. *Plan once*, when every starting worker has collected: group the tests by
   shared keys (``_core/grouping.py``), place the groups longest first
   (``_core/plan.py``), and send each worker all its tests at once, in collection
   order, so its loop has them all to run concurrently.
2. *Idle workers get work*: when a worker has no more tests left than its cap
   (``--asyncgroup-concurrency``), or a replacement worker has none, the
   ``Balance`` (``_core/balance.py``) says which worker to ask, through xdist's
   ``steal`` command, for which tests it has not started: keyless tests first,
   else a whole keyed group, given back all or none (``WHOLE``), so a group
   still runs on one worker.
3. *Serial tests* wait until every other test has finished, then go to one
   worker, which runs them one at a time (they run alone in its loop). So
   they never overlap any test on any worker.
4. *Crashes*: of the crashed worker's unfinished tests,
   those that had started are reported failed naming the crash (xdist reports
   the first, we the others); those that had not are sent to the replacement
   worker, or, when xdist will not replace it, to a live worker (serial
   tests too, then); with none left they are reported as not run. Every
   collected test gets a report.
5. *Stop* (``-x``, ``--maxfail``): nothing more is sent, and workers are told
   to cancel what they are running.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from .. import _compat
from .._core.balance import Ask, Balance
from .._core.gcpause import collector_paused
from .._core.keys import Declaration
from .._core.plan import Placement, plan_run
from .._core.settings import Settings
from .._session.declarations import declarations_error
from .protocol import STOP_COMMAND, WHOLE, Collection

if TYPE_CHECKING:
    from xdist.workermanage import WorkerController
else:
    WorkerController = Any


def worker_order(node: WorkerController) -> tuple[int, str]:
    """gw0, gw1, ..., gw10: the order plans are made in, whatever order workers start."""
    name = str(node.gateway.id)
    digits = re.sub(r"\D", "", name)
    return (int(digits) if digits else -1, name)


class AsyncGroupScheduling:
    """xdist's ``Scheduling`` protocol for ``--dist=asyncgroup``; see module docstring."""

    def __init__(
        self,
        config: pytest.Config,
        log: Callable[..., None],
        *,
        settings: Settings,
        receive_collection: Callable[[WorkerController], Collection],
        history: Mapping[str, float],
    ) -> None:
        self.config = config
        self.log = log
        self.settings = settings
        self._receive_collection = receive_collection
        self._history = history
        self._expected_workers = _compat.worker_count(config)
        self._max_restarts = _compat.max_worker_restart(config)
        self._crashes = 0
        self._assigned: dict[WorkerController, set[int]] = {}
        self._in_workers = 0
        """Tests sent to workers and not complete: the sum of ``_assigned``'s sizes
        (xdist asks ``tests_finished`` after every event, six per test)."""
        self._collected: set[WorkerController] = set()
        self._crashed: dict[WorkerController, object] = {}
        self._unusable: set[WorkerController] = set()
        self.collection: list[str] | None = None
        self.declarations: tuple[Declaration, ...] = ()
        self._first_worker = ""
        self._index_of: dict[str, int] = {}
        self._balance: Balance[WorkerController] = Balance()
        self._stealing: tuple[Ask[WorkerController], WorkerController] | None = None
        """``(ask, for)`` while a ``steal`` command waits for its answer."""
        self._unassigned: list[int] = []
        self._serial: list[int] = []
        self._planned = False
        self._stopped = False
        self.plan: list[Placement[int]] = []
        self.plan_workers = 0  # how many workers the plan was made for

    # --- xdist's protocol ---------------------------------------------------------

    @property
    def nodes(self) -> list[WorkerController]:
        return list(self._assigned)

    @property
    def collection_is_completed(self) -> bool:
        return len(self._collected) >= self._expected_workers

    @property
    def tests_finished(self) -> bool:
        return self._planned and not self.has_pending and self.collection_is_completed

    @property
    def has_pending(self) -> bool:
        return bool(self._in_workers or self._unassigned or self._serial)

    def add_node(self, node: WorkerController) -> None:
        self._assigned[node] = set()
        self._balance.joined(node)

    def add_node_collection(self, node: WorkerController, collection: Sequence[str]) -> None:
        received = self._receive_collection(node)
        self._collected.add(node)
        if self.collection is None:
            if received.problems:
                self._shutdown_all()
                raise declarations_error(list(received.problems))
            self.collection = list(collection)
            self.declarations = received.declarations
            self._first_worker = str(node.gateway.id)
            self._index_of = {nodeid: index for index, nodeid in enumerate(collection)}
            return
        difference = _compat.collection_difference(
            self.collection, list(collection), self._first_worker, str(node.gateway.id)
        )
        if difference is not None:
            self._unusable.add(node)
            self._report_collection_difference(node, difference)

    def schedule(self) -> None:
        if not self.collection_is_completed or self._stopped:
            return
        if not self._planned:
            self._planned = True
            if not self._unusable:
                self._make_plan()
        self._send_unassigned()
        self._start_serial_tests_if_due()
        for node in self._live_nodes():  # a replacement worker that got nothing
            if not self._assigned[node]:
                self._find_work_for(node)

    def mark_test_complete(
        self, node: WorkerController, item_index: int, duration: float = 0
    ) -> None:
        assigned = self._assigned[node]
        if item_index in assigned:
            assigned.remove(item_index)
            self._in_workers -= 1
            self._balance.gone(node, (item_index,))
            if self._serial and not self._in_workers:
                self._start_serial_tests_if_due()
            elif len(assigned) <= self.settings.concurrency:
                self._find_work_for(node)

    def mark_test_pending(self, item: str) -> None:
        raise NotImplementedError("--dist=asyncgroup does not take tests back for re-runs")

    def remove_pending_tests_from_node(
        self, node: WorkerController, indices: Sequence[int]
    ) -> None:
        """``node`` answers a ``steal``: ``indices`` had not started, and now never will there."""
        ask, thief = None, None
        if self._stealing is not None and self._stealing[0].giver is node:
            ask, thief = self._stealing
            self._stealing = None
        assigned = self._assigned.get(node, set())  # (a node that went down has none)
        moved = sorted(index for index in indices if index in assigned)
        if moved:
            assigned.difference_update(moved)
            self._in_workers -= len(moved)
            self._balance.gone(node, moved)
        if self._stopped:
            return  # a stopped run starts nothing more
        live = self._live_nodes()
        if moved and thief in live:
            self._send(thief, moved)
        elif moved:  # the idle worker went down meanwhile
            self._unassigned.extend(moved)
            self._send_unassigned()
        elif ask is not None:  # they started meanwhile; the next ask may differ, this would not
            self._balance.refused(ask)
        if thief in live and len(self._assigned[thief]) <= self.settings.concurrency:
            self._find_work_for(thief)

    def remove_node(self, node: WorkerController) -> str | None:
        unfinished = self._assigned.pop(node)
        self._in_workers -= len(unfinished)
        self._balance.left(node)
        if self._stealing is not None and self._stealing[0].giver is node:
            self._stealing = None  # its answer will not come
        self._collected.discard(node)
        self._unusable.discard(node)
        error = self._crashed.pop(node, None)
        if error is None or self.collection is None:
            return None  # a normal exit: whatever was left unfinished was stopped
        self._crashes += 1
        in_flight = sorted(index for index in unfinished if self._balance.has_started(index))
        not_started = sorted(set(unfinished) - set(in_flight))
        for index in in_flight[1:]:
            self._report_failed(index, node, self._crash_message(node, index, in_flight))
        self._unassigned.extend(not_started)
        if not self._replacement_coming():
            # xdist shuts every worker down next: what is left must go now. Held
            # serial tests go too; they run alone in their worker, but other
            # workers may still be busy (a degraded run, said in the README).
            self._unassigned.extend(self._serial)
            self._serial = []
            self._send_unassigned()
            self._report_unassigned_as_not_run(node)
        return self.collection[in_flight[0]] if in_flight else None

    # --- told by the controller plugin ------------------------------------------------

    def mark_started(self, nodeid: str) -> None:
        """A worker began running ``nodeid`` (``pytest_runtest_logstart``)."""
        index = self._index_of.get(nodeid)
        if index is not None:
            self._balance.started(index)

    def mark_crashed(self, node: WorkerController, error: object) -> None:
        """``node`` went down with ``error`` (``pytest_testnodedown``), not a normal exit."""
        self._crashed[node] = error

    def stop(self, reason: str) -> None:
        """Start nothing more; tell workers to cancel what they run."""
        if self._stopped:
            return
        self._stopped = True
        self._unassigned.clear()
        self._serial.clear()
        for node in self._live_nodes():
            node.sendcommand(STOP_COMMAND, reason=reason)

    # --- planning and sending ---------------------------------------------------------

    def _make_plan(self) -> None:
        assert self.collection is not None
        workers = sorted(self._usable_nodes(), key=worker_order)
        if not workers:
            return
        history = {
            i: self._history[nodeid]
            for i, nodeid in enumerate(self.collection)
            if nodeid in self._history
        }
        with collector_paused():  # every worker waits for this plan (_gcpause.py)
            run_plan = plan_run(self.declarations, history, self.settings.per_worker, len(workers))
            self.plan = run_plan.placements
            self.plan_workers = len(workers)
            self._balance.plan(self.plan)
        self._serial = run_plan.serial
        for node, indices in zip(workers, run_plan.per_worker(len(workers)), strict=True):
            self._send(node, indices)

    def _send(self, node: WorkerController, indices: list[int]) -> None:
        if indices:
            assigned = self._assigned[node]
            before = len(assigned)
            assigned.update(indices)
            self._in_workers += len(assigned) - before
            self._balance.sent(node, indices)
            node.send_runtest_some(indices)

    def _find_work_for(self, idle: WorkerController) -> None:
        """Rule 2: ask another worker for keyless tests, else for a whole group."""
        if self._stealing is not None or self._stopped or idle.shutting_down:
            return
        others = [node for node in self._live_nodes() if node is not idle]
        ask = self._balance.ask_for(idle, others, self._assigned)
        if ask is None:
            return
        self._stealing = (ask, idle)
        if ask.whole:
            ask.giver.sendcommand(_compat.STEAL, indices=ask.tests, **{WHOLE: True})
        else:
            ask.giver.send_steal(ask.tests)

    def _usable_nodes(self) -> list[WorkerController]:
        return [
            node
            for node in self._assigned
            if node in self._collected and node not in self._unusable
        ]

    def _live_nodes(self) -> list[WorkerController]:
        return sorted(
            (node for node in self._usable_nodes() if not node.shutting_down),
            key=worker_order,
        )

    def _send_unassigned(self) -> None:
        """Re-queued tests go together to the least busy live worker."""
        live = self._live_nodes()
        if self._unassigned and live:
            target = min(live, key=lambda node: (len(self._assigned[node]), worker_order(node)))
            indices, self._unassigned = sorted(self._unassigned), []
            self._send(target, indices)

    def _start_serial_tests_if_due(self) -> None:
        if not self._serial or self._unassigned or self._in_workers:
            return
        live = self._live_nodes()
        if live:
            indices, self._serial = self._serial, []
            self._send(live[0], indices)

    def _shutdown_all(self) -> None:
        for node in self._assigned:
            node.shutdown()

    # --- crashes ----------------------------------------------------------------------

    def _replacement_coming(self) -> bool:
        return self._max_restarts is None or self._crashes <= self._max_restarts

    def _crash_message(self, node: WorkerController, index: int, in_flight: list[int]) -> str:
        assert self.collection is not None
        others = [self.collection[i] for i in in_flight if i != index]
        return (
            f"worker {node.gateway.id!r} crashed while running {self.collection[index]!r} "
            f"beside {len(others)} other test(s) in flight there, any of which may have "
            f"caused it: {', '.join(others)}"
        )

    def _report_unassigned_as_not_run(self, node: WorkerController) -> None:
        for index in self._unassigned:
            self._report_failed(
                index,
                node,
                f"not run: worker {node.gateway.id!r} crashed before this test started, "
                "and no worker is left to run it",
            )
        self._unassigned = []

    def _report_failed(self, index: int, node: WorkerController, message: str) -> None:
        assert self.collection is not None
        report = _compat.crash_report(self.collection[index], message, node)
        self.config.hook.pytest_runtest_logreport(report=report)

    def _report_collection_difference(self, node: WorkerController, difference: str) -> None:
        message = (
            f"pytest-asyncgroup: worker {node.gateway.id!r} gets no tests: --dist=asyncgroup "
            f"needs every worker to collect the same tests in the same order.\n{difference}"
        )
        self.log(message)
        report = pytest.CollectReport(
            nodeid=str(node.gateway.id), outcome="failed", longrepr=message, result=[]
        )
        self.config.hook.pytest_collectreport(report=report)
