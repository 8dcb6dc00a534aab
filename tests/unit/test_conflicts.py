"""The doctor's rules, on plain data (``_core/conflicts.py``)."""

from __future__ import annotations

from pytest_asyncgroup._core.conflicts import (
    Interval,
    Touch,
    conftest_snippet,
    declarations,
    find_conflicts,
    overlapped_by,
)

A, B, C = Interval("a", "gw0", 0.0, 1.0), Interval("b", "gw0", 0.5, 1.5), Interval("c", "gw1", 2, 3)


def test_a_writer_and_a_reader_that_overlap_conflict() -> None:
    touches = [Touch("a", "file", "x", True, "t.py:1"), Touch("b", "file", "x", False, "t.py:2")]
    (conflict,) = find_conflicts(touches, [A, B])
    assert conflict.changers == {"a": "t.py:1"}
    assert conflict.readers == {"b": "t.py:2"}
    assert [(d.test, d.key, d.exclusive) for d in declarations([conflict])] == [
        ("a", "file:x", True),
        ("b", "file:x", False),
    ]


def test_adding_files_to_one_directory_conflicts_only_with_listing_it() -> None:
    adders = [Touch("a", "listing", "d", True), Touch("b", "listing", "d", True)]
    assert find_conflicts(adders, [A, B]) == []
    lister = Interval("c", "gw0", 0.2, 0.4)
    listing = [*adders, Touch("c", "listing", "d", False)]
    (conflict,) = find_conflicts(listing, [A, B, lister])
    # b began after c had listed it; another run may order them otherwise
    assert conflict.pairs == {("a", "c"), ("b", "c")}


def test_readers_alone_do_not_conflict() -> None:
    touches = [Touch("a", "file", "x", False), Touch("b", "file", "x", False)]
    assert find_conflicts(touches, [A, B]) == []


def test_a_file_conflicts_whether_or_not_its_tests_ran_together_this_time() -> None:
    # aiofiles: readers of a file that others rename away never happened to
    # overlap a renamer in two doctor runs, then failed beside one in the third.
    touches = [Touch("a", "file", "x", True), Touch("c", "file", "x", False)]
    (conflict,) = find_conflicts(touches, [A, C])
    assert conflict.pairs == {("a", "c")}


def test_a_port_conflicts_only_between_tests_that_ran_together() -> None:
    # A found port is another one every run: only tests that overlapped clash.
    touches = [Touch("a", "port", "40003", True), Touch("c", "port", "40003", True)]
    assert find_conflicts(touches, [A, C]) == []


def test_files_and_ports_are_shared_across_workers_the_environment_is_not() -> None:
    other_worker = Interval("b", "gw1", 0.5, 1.5)
    port = [Touch("a", "port", "8000", True), Touch("b", "port", "8000", True)]
    assert len(find_conflicts(port, [A, other_worker])) == 1
    env = [Touch("a", "env", "MODE", True)]
    assert find_conflicts(env, [A, other_worker]) == []
    (same_worker,) = find_conflicts(env, [A, B])
    assert [d.mark() for d in declarations([same_worker])] == ["@pytest.mark.serial"]


def test_a_change_made_while_holding_the_others_still_conflicts_with_nothing() -> None:
    touches = [Touch("a", "env", "MODE", True, isolated=True), Touch("b", "file", "y", True)]
    assert find_conflicts(touches, [A, B]) == []


def test_a_test_failing_only_when_overlapped_with_nothing_seen_in_common_gets_serial() -> None:
    (conflict,) = find_conflicts(
        [Touch("a", "file", "x", True), Touch("b", "file", "x", True)], [A, B]
    )
    found = declarations([conflict], unexplained=["a", "c"])
    assert [(d.test, d.key) for d in found] == [("a", "file:x"), ("b", "file:x"), ("c", None)]


def test_the_snippet_applies_keys_and_serial_marks() -> None:
    touches = [
        Touch("a", "file", "x", True),
        Touch("b", "file", "x", True),
        Touch("a", "env", "MODE", True),
    ]
    snippet = conftest_snippet(declarations(find_conflicts(touches, [A, B])))
    namespace: dict[str, object] = {}
    exec(compile(snippet, "conftest.py", "exec"), namespace)
    assert namespace["_ASYNCGROUP_KEYS"] == {"a": [("file:x", True)], "b": [("file:x", True)]}
    assert namespace["_ASYNCGROUP_SERIAL"] == {"a"}
    assert overlapped_by("a", [A, B, C]) == ["b"]


def test_a_port_found_then_bound_is_named_and_gets_no_key() -> None:
    """``a`` found 40003 with a bind to port 0 and bound it again; ``b`` bound it
    meanwhile: a key on this run's port would not help the next run."""
    touches = [
        Touch("a", "found port", "40003", False, "t.py:3"),
        Touch("a", "port", "40003", True, "t.py:3"),
        Touch("b", "port", "40003", True, "t.py:9"),
    ]
    (conflict,) = find_conflicts(touches, [A, B])
    assert conflict.found_by == {"a": "t.py:3"}
    assert declarations([conflict]) == []


def test_a_fixed_port_two_tests_bind_still_gets_a_key() -> None:
    touches = [Touch("a", "port", "8000", True), Touch("b", "port", "8000", True)]
    (conflict,) = find_conflicts(touches, [A, B])
    assert not conflict.found_then_bound
    assert {d.key for d in declarations([conflict])} == {"port:8000"}
