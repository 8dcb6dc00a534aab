"""Work stealing as a pure rule: who gives which tests to a worker running low.

The scheduler's side (sending ``steal``, answers that race a crash or a stop) is
in ``test_stealing.py``; the end-to-end proof in ``acceptance/test_placement.py``.
"""

from __future__ import annotations

from pytest_asyncgroup._core.balance import Ask, Balance
from pytest_asyncgroup._core.grouping import Group
from pytest_asyncgroup._core.plan import Placement


def placement(tests: range | list[int], *keys: str, worker: int = 0) -> Placement[int]:
    return Placement(Group(tuple(sorted(keys)), tuple(tests)), float(len(tests)), worker)


def balance_of(held: dict[str, set[int]], placements: list[Placement[int]]) -> Balance[str]:
    balance: Balance[str] = Balance()
    balance.plan(placements)
    for worker, tests in held.items():
        balance.joined(worker)
        balance.sent(worker, tests)
    return balance


def test_keyless_tests_come_from_the_worker_with_most_half_the_difference_the_last() -> None:
    held = {"gw0": set(range(0, 2)), "gw1": set(range(2, 12)), "gw2": set(range(12, 16))}
    balance = balance_of(held, [placement(range(16))])
    assert balance.ask_for("gw0", ["gw1", "gw2"], held) == Ask("gw1", [8, 9, 10, 11], whole=False)


def test_started_keyless_tests_do_not_move() -> None:
    held = {"gw0": set(), "gw1": set(range(10))}
    balance = balance_of(held, [placement(range(10))])
    for test in range(6, 10):
        balance.started(test)
    assert balance.ask_for("gw0", ["gw1"], held) == Ask("gw1", [3, 4, 5], whole=False)
    for test in range(6):
        balance.started(test)
    assert balance.ask_for("gw0", ["gw1"], held) is None


def test_finished_and_given_back_tests_no_longer_count() -> None:
    held = {"gw0": set(), "gw1": set(range(4))}
    balance = balance_of(held, [placement(range(4))])
    assert balance.ask_for("gw0", ["gw1"], held) == Ask("gw1", [2, 3], whole=False)
    held["gw1"] -= {2, 3}
    balance.gone("gw1", [2, 3])
    held["gw0"] |= {2, 3}
    balance.sent("gw0", [2, 3])
    assert balance.ask_for("gw0", ["gw1"], held) is None


def test_with_no_keyless_test_to_move_a_whole_unstarted_group_moves() -> None:
    """The largest of at most half the difference; the later on ties."""
    groups = [
        placement([0, 1, 2], "a"),
        placement([3, 4], "b"),
        placement([5, 6], "c"),
        placement([7, 8, 9, 10, 11], "d"),
    ]
    held = {"gw0": set(), "gw1": set(range(12))}
    balance = balance_of(held, groups)
    assert balance.ask_for("gw0", ["gw1"], held) == Ask("gw1", [7, 8, 9, 10, 11], whole=True)
    balance.started(9)
    assert balance.ask_for("gw0", ["gw1"], held) == Ask("gw1", [0, 1, 2], whole=True)
    held["gw1"] -= {0, 1, 2}
    held["gw0"] |= {0, 1, 2}
    # difference 9 - 3 = 6: a group of 2 fits, the later of the two
    assert balance.ask_for("gw0", ["gw1"], held) == Ask("gw1", [5, 6], whole=True)


def test_a_group_that_would_flip_the_imbalance_stays() -> None:
    held = {"gw0": {0}, "gw1": {1, 2, 3, 4}}
    balance = balance_of(
        held, [placement([0], "x"), placement([1, 2], "a"), placement([3, 4], "a")]
    )
    assert balance.ask_for("gw0", ["gw1"], held) is None  # difference 3: a group of 2 > 3/2


def test_an_ask_that_came_back_empty_is_not_made_again_but_a_different_one_is() -> None:
    held = {"gw0": set(), "gw1": set(range(8))}
    balance = balance_of(held, [placement(range(8))])
    ask = balance.ask_for("gw0", ["gw1"], held)
    assert ask == Ask("gw1", [4, 5, 6, 7], whole=False)
    balance.refused(ask)
    assert balance.ask_for("gw0", ["gw1"], held) is None
    balance.started(7)
    assert balance.ask_for("gw0", ["gw1"], held) == Ask("gw1", [4, 5, 6], whole=False)


def test_a_worker_that_left_is_never_asked_and_no_others_means_no_ask() -> None:
    held = {"gw0": set(), "gw1": set(range(8))}
    balance = balance_of(held, [placement(range(8))])
    assert balance.ask_for("gw0", [], held) is None
    balance.left("gw1")
    balance.gone("gw1", range(8))  # a late answer for a worker that left changes nothing
    assert balance.ask_for("gw0", [], held) is None
