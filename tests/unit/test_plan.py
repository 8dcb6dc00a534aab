"""The plan (pure): longest groups first, each to the least loaded worker."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pytest_asyncgroup._core.grouping import Group
from pytest_asyncgroup._core.plan import estimate_tests, outsized_groups, place


def groups_of(sizes: list[int]) -> list[Group[int]]:
    groups, first = [], 0
    for size in sizes:
        groups.append(Group(keys=(f"k{first}",), tests=tuple(range(first, first + size))))
        first += size
    return groups


def test_without_history_groups_are_balanced_by_test_count() -> None:
    groups = groups_of([3, 1, 2, 1])
    tests = [t for g in groups for t in g.tests]
    plan = place(groups, 2, estimate_tests(tests, {}))
    assert [p.worker for p in plan] == [0, 1, 1, 0]
    assert [p.estimate for p in plan] == [3, 1, 2, 1]


def test_history_puts_a_long_group_on_a_worker_of_its_own() -> None:
    groups = groups_of([1, 1, 1, 1])
    plan = place(groups, 2, estimate_tests(range(4), {0: 1.0, 1: 1.0, 2: 30.0, 3: 1.0}))
    assert [p.group.tests for p in plan if p.worker == plan[2].worker] == [(2,)]
    # Tests without history count as the mean of those with one.
    assert estimate_tests(range(3), {0: 1.0, 1: 3.0}) == {0: 1.0, 1: 3.0, 2: 2.0}


@given(
    sizes=st.lists(st.integers(1, 20), min_size=1, max_size=40),
    workers=st.integers(1, 8),
)
def test_every_group_is_placed_once_deterministically_and_balanced(
    sizes: list[int], workers: int
) -> None:
    groups = groups_of(sizes)
    estimates = estimate_tests([t for g in groups for t in g.tests], {})
    plan = place(groups, workers, estimates)
    assert plan == place(groups, workers, estimates)
    assert [p.group for p in plan] == groups
    assert all(0 <= p.worker < workers for p in plan)
    loads = [sum(p.estimate for p in plan if p.worker == w) for w in range(workers)]
    # Longest-first greedy: no worker exceeds the mean by more than the largest group.
    assert max(loads) <= sum(sizes) / workers + max(sizes)


def test_a_group_with_more_than_a_workers_share_is_outsized() -> None:
    groups = [Group(keys=("orders", "stock"), tests=tuple(range(30)))]
    groups += [Group(keys=(), tests=(t,)) for t in range(30, 40)]
    plan = place(groups, 2, estimate_tests(range(40), {}))
    [big] = outsized_groups(plan, 2)
    assert (big.keys, len(big.tests), big.estimate, big.share) == (
        ("orders", "stock"),
        30,
        30,
        0.75,
    )
    assert outsized_groups(plan, 1) == []  # one worker: its share is the whole run
    # Keyless tests are groups of one and never outsized, however long.
    assert [g.keys for g in outsized_groups(plan, 8)] == [("orders", "stock")]


@given(
    sizes=st.lists(st.integers(1, 20), min_size=1, max_size=40),
    workers=st.integers(2, 8),
)
def test_outsized_groups_are_those_over_a_workers_share(sizes: list[int], workers: int) -> None:
    groups = groups_of(sizes)
    plan = place(groups, workers, estimate_tests(range(sum(sizes)), {}))
    total = sum(sizes)
    found = outsized_groups(plan, workers)
    assert sorted(g.estimate for g in found) == sorted(s for s in sizes if s * workers > total)
    assert all(g.share == g.estimate / total and g.workers == workers for g in found)
