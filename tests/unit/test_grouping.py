"""Groups are the connected components over shared keys (pure, property-tested)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pytest_asyncgroup._core.grouping import Group, group_tests

KEYS = st.sampled_from(["db", "cache", "api", "queue", "s3", "mail"])
SUITES = st.dictionaries(
    st.text(alphabet="abcdefghij", min_size=1, max_size=4), st.frozensets(KEYS, max_size=3)
)


def test_a_test_with_two_keys_joins_their_groups() -> None:
    groups = group_tests(
        {"a": {"db"}, "b": {"db", "cache"}, "c": {"cache"}, "d": {"queue"}, "e": set()}
    )
    assert groups == [
        Group(("cache", "db"), ("a", "b", "c")),
        Group(("queue",), ("d",)),
        Group((), ("e",)),
    ]


def test_per_worker_keys_link_nothing() -> None:
    groups = group_tests({"a": {"db", "x"}, "b": {"db"}, "c": {"x"}}, per_worker={"db"})
    assert groups == [Group(("x",), ("a", "c")), Group((), ("b",))]


@given(SUITES, st.frozensets(KEYS, max_size=2))
def test_groups_partition_the_tests_in_order(
    suite: dict[str, frozenset[str]], per_worker: frozenset[str]
) -> None:
    groups = group_tests(suite, per_worker)
    flat = [test for group in groups for test in group.tests]
    assert sorted(flat) == sorted(suite)
    # each group lists its tests in input order, groups in order of their first test
    order = list(suite)
    for group in groups:
        assert list(group.tests) == sorted(group.tests, key=order.index)
    firsts = [order.index(group.tests[0]) for group in groups]
    assert firsts == sorted(firsts)


@given(SUITES, st.frozensets(KEYS, max_size=2))
def test_tests_sharing_a_key_share_a_group_and_groups_share_no_key(
    suite: dict[str, frozenset[str]], per_worker: frozenset[str]
) -> None:
    groups = group_tests(suite, per_worker)
    group_of = {test: index for index, group in enumerate(groups) for test in group.tests}
    for a, keys_a in suite.items():
        for b, keys_b in suite.items():
            if (keys_a & keys_b) - per_worker:
                assert group_of[a] == group_of[b]
    seen: set[str] = set()
    for group in groups:
        assert not (set(group.keys) & seen)
        assert not (set(group.keys) & per_worker)
        seen.update(group.keys)


@given(SUITES)
def test_groups_are_connected(suite: dict[str, frozenset[str]]) -> None:
    for group in group_tests(suite):
        reached = {group.tests[0]}
        frontier = set(suite[group.tests[0]])
        changed = True
        while changed:
            changed = False
            for test in group.tests:
                if test not in reached and suite[test] & frontier:
                    reached.add(test)
                    frontier |= suite[test]
                    changed = True
        assert reached == set(group.tests)


@given(SUITES)
def test_equal_inputs_give_equal_groups(suite: dict[str, frozenset[str]]) -> None:
    assert group_tests(suite) == group_tests(dict(suite))
