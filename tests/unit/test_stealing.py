"""The scheduler's rule 2, idle workers get work, against stand-in workers.

The end-to-end proof is in ``acceptance/test_placement.py``; the races a real run cannot
stage on demand (an answer that comes back empty, or after its worker or the
run went away) are staged here, with xdist's calls in the order xdist makes them.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_asyncgroup._core.keys import NO_RESOURCES, Declaration
from pytest_asyncgroup._core.settings import Settings
from pytest_asyncgroup._xdist.protocol import WHOLE, Collection
from pytest_asyncgroup._xdist.scheduler import AsyncGroupScheduling


class StandInWorker:
    """Records what the scheduler sends, as ``WorkerController`` would send it."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.shutting_down = False
        self.runs: list[int] = []
        self.steals: list[list[int]] = []
        self.group_steals: list[list[int]] = []
        """``steal`` commands asking for all of the tests or none (a keyed group)."""

    def send_runtest_some(self, indices: list[int]) -> None:
        self.runs.extend(indices)

    def send_steal(self, indices: list[int]) -> None:
        self.steals.append(list(indices))

    def sendcommand(self, name: str, **kwargs: Any) -> None:
        if name == "steal":
            assert kwargs[WHOLE] is True
            self.group_steals.append(list(kwargs["indices"]))

    def shutdown(self) -> None:
        self.shutting_down = True


DB = Declaration(shared=frozenset({"db"}))


def started_run(
    pytester: pytest.Pytester, declarations: list[Declaration], *args: str
) -> tuple[AsyncGroupScheduling, StandInWorker, StandInWorker]:
    config = pytester.parseconfig("--tx", "2*popen", "--dist=asyncgroup", *args)
    collection = Collection(tuple(declarations))
    scheduler = AsyncGroupScheduling(
        config,
        lambda *args: None,
        settings=Settings(concurrency=2),
        receive_collection=lambda node: collection,
        history={},
    )
    nodeids = [f"test_x.py::test[{i}]" for i in range(len(declarations))]
    workers = StandInWorker("gw0"), StandInWorker("gw1")
    for worker in workers:
        scheduler.add_node(worker)  # type: ignore[arg-type]
    for worker in workers:
        scheduler.add_node_collection(worker, nodeids)  # type: ignore[arg-type]
    scheduler.schedule()
    return scheduler, *workers


def finish(scheduler: AsyncGroupScheduling, worker: StandInWorker, *indices: int) -> None:
    for index in indices:
        scheduler.mark_started(f"test_x.py::test[{index}]")
        scheduler.mark_test_complete(worker, index)  # type: ignore[arg-type]


def test_a_worker_running_low_asks_the_busiest_for_half_the_difference(
    pytester: pytest.Pytester,
) -> None:
    # gw0 gets the db group (0-5) and two keyless tests; gw1 the other keyless.
    scheduler, gw0, gw1 = started_run(pytester, [DB] * 6 + [NO_RESOURCES] * 10)
    assert gw0.runs == [0, 1, 2, 3, 4, 5, 12, 14]
    assert gw1.runs == [6, 7, 8, 9, 10, 11, 13, 15]
    finish(scheduler, gw1, 6, 7, 8, 9, 10)  # 3 left: above the cap of 2
    assert gw0.steals == []
    finish(scheduler, gw1, 11)  # 2 left: gw0 has 2 keyless not started
    assert gw0.steals == []  # half the difference of 2 and 2 is nothing
    finish(scheduler, gw1, 13, 15)  # none left
    assert gw0.steals == [[14]], "from the end of those not started"
    assert gw0.group_steals == [], "the db group (6 of gw0's 8) is more than half of 8 - 0"
    scheduler.remove_pending_tests_from_node(gw0, [14])  # type: ignore[arg-type]
    assert gw1.runs[-1] == 14
    finish(scheduler, gw0, 0, 1, 2, 3, 4, 5, 12)
    finish(scheduler, gw1, 14)
    assert scheduler.tests_finished


def test_an_empty_answer_is_not_asked_again_as_it_was(pytester: pytest.Pytester) -> None:
    scheduler, gw0, gw1 = started_run(pytester, [DB] * 6 + [NO_RESOURCES] * 10)
    finish(scheduler, gw1, 6, 7, 8, 9, 10, 11, 13, 15)
    assert gw0.steals == [[14]]
    # Test 14 started on gw0 before the steal reached it: nothing comes back.
    scheduler.remove_pending_tests_from_node(gw0, [])  # type: ignore[arg-type]
    assert gw0.steals == [[14]]
    assert gw1.runs == [6, 7, 8, 9, 10, 11, 13, 15]
    finish(scheduler, gw0, 0, 1, 2, 3, 4, 5, 12, 14)
    assert scheduler.tests_finished


def test_an_answer_after_the_idle_worker_crashed_goes_to_a_live_worker(
    pytester: pytest.Pytester,
) -> None:
    scheduler, gw0, gw1 = started_run(pytester, [DB] * 6 + [NO_RESOURCES] * 10)
    finish(scheduler, gw1, 6, 7, 8, 9, 10, 11, 13, 15)
    assert gw0.steals == [[14]]
    scheduler.mark_crashed(gw1, "crashed")  # type: ignore[arg-type]
    scheduler.remove_node(gw1)  # type: ignore[arg-type]
    scheduler.remove_pending_tests_from_node(gw0, [14])  # type: ignore[arg-type]
    assert gw0.runs[-1] == 14, "given back, then sent to the only live worker"
    finish(scheduler, gw0, 0, 1, 2, 3, 4, 5, 12, 14)
    assert not scheduler.has_pending  # (xdist ends a run with a crash by itself)


def test_an_answer_after_a_stop_starts_nothing(pytester: pytest.Pytester) -> None:
    scheduler, gw0, gw1 = started_run(pytester, [DB] * 6 + [NO_RESOURCES] * 10)
    finish(scheduler, gw1, 6, 7, 8, 9, 10, 11, 13, 15)
    scheduler.stop("-x")
    scheduler.remove_pending_tests_from_node(gw0, [14])  # type: ignore[arg-type]
    assert gw1.runs == [6, 7, 8, 9, 10, 11, 13, 15]
    finish(scheduler, gw0, 0, 1, 2, 3, 4, 5, 12)
    assert scheduler.tests_finished


def test_a_crash_of_the_busiest_worker_while_asked_loses_nothing(
    pytester: pytest.Pytester,
) -> None:
    scheduler, gw0, gw1 = started_run(
        pytester, [DB] * 6 + [NO_RESOURCES] * 10, "--max-worker-restart", "0"
    )
    finish(scheduler, gw1, 6, 7, 8, 9, 10, 11, 13, 15)
    assert gw0.steals == [[14]]
    scheduler.mark_started("test_x.py::test[0]")
    scheduler.mark_crashed(gw0, "crashed")  # type: ignore[arg-type]
    assert scheduler.remove_node(gw0) == "test_x.py::test[0]"  # type: ignore[arg-type]
    # Everything gw0 had not started, the asked-for test too, goes to gw1.
    assert sorted(gw1.runs[8:]) == [1, 2, 3, 4, 5, 12, 14]
    # An answer that was on its way changes nothing: gw0 has nothing left.
    scheduler.remove_pending_tests_from_node(gw0, [14])  # type: ignore[arg-type]
    assert sorted(gw1.runs[8:]) == [1, 2, 3, 4, 5, 12, 14]
    finish(scheduler, gw1, 1, 2, 3, 4, 5, 12, 14)
    assert not scheduler.has_pending


def test_a_replacement_worker_with_nothing_to_run_asks_for_work(
    pytester: pytest.Pytester,
) -> None:
    scheduler, gw0, gw1 = started_run(pytester, [NO_RESOURCES] * 8)
    assert (gw0.runs, gw1.runs) == ([0, 2, 4, 6], [1, 3, 5, 7])
    finish(scheduler, gw1, 1, 3, 5)
    assert gw0.steals == [[6]]
    scheduler.mark_started("test_x.py::test[7]")
    scheduler.mark_crashed(gw1, "crashed")  # type: ignore[arg-type]
    assert scheduler.remove_node(gw1) == "test_x.py::test[7]"  # type: ignore[arg-type]
    scheduler.remove_pending_tests_from_node(gw0, [6])  # type: ignore[arg-type]
    assert gw0.runs[-1] == 6, "its idle worker went down: back to the only live one"
    replacement = StandInWorker("gw2")
    scheduler.add_node(replacement)  # type: ignore[arg-type]
    scheduler.add_node_collection(replacement, [f"test_x.py::test[{i}]" for i in range(8)])  # type: ignore[arg-type]
    scheduler.schedule()
    assert gw0.steals[-1] == [4, 6]
    scheduler.remove_pending_tests_from_node(gw0, [4, 6])  # type: ignore[arg-type]
    assert replacement.runs == [4, 6]


def keyed(key: str) -> Declaration:
    return Declaration(shared=frozenset({key}))


# Four groups, no history: a (0-3) and c (8-9) go to gw0, b (4-7) and d (10-11) to gw1.
GROUPS = [keyed("a")] * 4 + [keyed("b")] * 4 + [keyed("c")] * 2 + [keyed("d")] * 2


def test_with_no_keyless_test_to_move_a_whole_group_not_started_moves(
    pytester: pytest.Pytester,
) -> None:
    scheduler, gw0, gw1 = started_run(pytester, GROUPS)
    assert (gw0.runs, gw1.runs) == ([0, 1, 2, 3, 8, 9], [4, 5, 6, 7, 10, 11])
    scheduler.mark_started("test_x.py::test[0]")
    scheduler.mark_started("test_x.py::test[1]")
    finish(scheduler, gw1, 4, 5, 6, 7)  # 2 left (its cap): 6 - 2 = 4 fewer than gw0
    # a has started; c (2 tests) is at most half the difference.
    assert gw0.group_steals == [[8, 9]]
    assert gw0.steals == []
    scheduler.remove_pending_tests_from_node(gw0, [8, 9])  # type: ignore[arg-type]
    assert gw1.runs[-2:] == [8, 9]
    finish(scheduler, gw1, 10, 11, 8, 9)
    finish(scheduler, gw0, 0, 1, 2, 3)
    assert scheduler.tests_finished
    assert gw0.group_steals == [[8, 9]], "a had started: it never moves"


def test_a_group_is_not_asked_for_once_one_of_its_tests_started_or_if_too_big(
    pytester: pytest.Pytester,
) -> None:
    scheduler, gw0, gw1 = started_run(pytester, GROUPS)
    scheduler.mark_started("test_x.py::test[9]")  # c has started
    finish(scheduler, gw1, 4, 5, 6, 7, 10, 11)  # gw1 idle: a (4) is more than half of 6
    assert gw0.group_steals == []
    assert gw1.runs == [4, 5, 6, 7, 10, 11]


def test_a_group_that_started_before_the_answer_stays_and_is_not_asked_again(
    pytester: pytest.Pytester,
) -> None:
    scheduler, gw0, gw1 = started_run(pytester, GROUPS)
    finish(scheduler, gw1, 4, 5, 6, 7)
    assert gw0.group_steals == [[8, 9]]
    scheduler.remove_pending_tests_from_node(gw0, [])  # type: ignore[arg-type]
    finish(scheduler, gw1, 10)
    assert gw0.group_steals == [[8, 9]]
    assert gw1.runs == [4, 5, 6, 7, 10, 11]


def test_a_worker_gives_back_all_of_a_group_or_none(suite: pytest.Pytester) -> None:
    """The worker's side of ``WHOLE``: the engine's ``withdraw`` gives back every
    test asked for, or none if one has started or is the next to start."""
    suite.makepyfile(
        """
        import json
        from pathlib import Path

        def test_asks(request):
            session = request.session
            loop = session.config.pluginmanager.get_plugin("asyncgroup-one-process").loop
            first, head, *waiting = session.items
            answers = {
                "started": loop.withdraw([waiting[0], first], whole=True),
                "head": loop.withdraw([head, waiting[1]], whole=True),
                "waiting": loop.withdraw(waiting[2:4], whole=True),
                "some": loop.withdraw([waiting[4], first]),
            }
            Path("answers.json").write_text(
                json.dumps({name: [item.name for item in items] for name, items in answers.items()})
            )

        def test_head():
            pass

        def test_w0(): pass
        def test_w1(): pass
        def test_w2(): pass
        def test_w3(): pass
        def test_w4(): pass
        """
    )
    result = suite.runpytest("--dist=asyncgroup")
    answers = json.loads((suite.path / "answers.json").read_text())
    assert answers == {
        "started": [],
        "head": [],
        "waiting": ["test_w2", "test_w3"],
        "some": ["test_w4"],
    }
    result.assert_outcomes(passed=4)  # the three given back do not run here
