"""``scripts/third_party.py --doctor``'s pure half: merging the doctor's suggestions
from several runs and counting them against hand-written marks
(``scripts/third_party_doctor.py``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest


def _load() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "scripts" / "third_party_doctor.py"
    spec = importlib.util.spec_from_file_location("third_party_doctor", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


doctor = _load()
Suggestion = doctor.Suggestion

OS_A = "tests/test_os.py::test_a"
MISC_C = "tests/test_misc.py::test_c[1]"


def test_merging_keeps_every_suggestion_and_the_exclusive_key() -> None:
    first = [Suggestion(OS_A, "file:f", True, "file")]
    second = [Suggestion(OS_A, "file:f", False, "file"), Suggestion(MISC_C, None)]
    merged = doctor.merge_suggestions([second, first])
    assert [(s.test, s.key, s.exclusive) for s in merged] == [
        (MISC_C, None, False),
        (OS_A, "file:f", True),
    ]


def test_suggestions_carry_their_reason_from_the_json() -> None:
    found: dict[str, Any] = {
        "failed_only_when_overlapped": [{"test": MISC_C}],
        "conflicts": [{"kind": "env", "changed_by": {"t.py::e": "t.py:3"}, "key": None}],
        "declarations": [
            {"test": OS_A, "key": "file:f", "exclusive": True},
            {"test": MISC_C, "key": None, "exclusive": False},
            {"test": "t.py::e", "key": None, "exclusive": False},
        ],
    }
    reasons = {s.test: s.reason for s in doctor.read_suggestions(found)}
    assert reasons == {OS_A: "file", MISC_C: "overlap-only", "t.py::e": "env"}


def test_found_and_extra_count_against_the_tests_the_hand_marks_cover() -> None:
    tests = [
        "tests.test_os::test_a",
        "tests.test_os::test_b",
        "tests.test_misc::test_c[1]",
        "tests.test_misc::test_d",
    ]
    merged = [Suggestion(OS_A, "file:f", True), Suggestion(MISC_C, None)]
    counted = doctor.tally(tests, ("tests/test_os.py",), merged)
    assert counted.found == {"tests.test_os::test_a"}
    assert counted.extra == {"tests.test_misc::test_c[1]"}
    assert counted.missed == {"tests.test_os::test_b"}
    assert (counted.unmarked, counted.extra_share, counted.found_share) == (2, 0.5, 0.5)
    assert not counted.uncollected


@pytest.mark.parametrize(
    ("key", "prefix", "covered"),
    [
        ("tests.test_x::test_a[1]", "tests/test_x.py::test_a", True),
        ("tests.test_x::test_ab", "tests/test_x.py::test_a", False),
        ("tests.test_x.TestA::test_b", "tests/test_x.py::TestA", True),
        ("tests.test_x.TestA::test_b", "tests/test_x.py", True),
        ("tests.test_xy::test_a", "tests/test_x.py", False),
    ],
)
def test_hand_marks_cover_tests_as_the_hand_written_plugin_does(
    key: str, prefix: str, covered: bool
) -> None:
    assert doctor.listed(key, prefix) is covered


def test_the_plugin_applies_each_suggestion_to_its_test() -> None:
    merged = [Suggestion(OS_A, "file:f", True), Suggestion(MISC_C, None)]
    namespace: dict[str, Any] = {}
    exec(doctor.declarations_plugin(merged), namespace)
    items = [SimpleNamespace(nodeid=n, marks=[]) for n in (OS_A, MISC_C, "t.py::other")]
    for item in items:
        item.add_marker = item.marks.append
    namespace["pytest_collection_modifyitems"](items)
    assert [[(m.name, m.args, m.kwargs) for m in item.marks] for item in items] == [
        [("resource", ("file:f",), {"exclusive": True})],
        [("serial", (), {})],
        [],
    ]
    with pytest.raises(pytest.UsageError, match="no test matches"):
        namespace["pytest_collection_modifyitems"](items[1:])


def test_the_summary_names_tests_that_blocked_the_loop() -> None:
    log = (
        "summary line\n"
        "blocked the event loop longer than 0.05s (asyncgroup_block_threshold), stalling:\n"
        "  tests/test_t.py::test_blocking: 0.10s\n"
        "effective parallelism ...\n"
    )
    assert doctor.blocked_in_summary(log) == {"tests/test_t.py::test_blocking": 0.1}


def test_junit_keys_match_what_pytest_writes() -> None:
    assert doctor.junit_key("tests/a/test_x.py::TestA::test_b[p::q]") == (
        "tests.a.test_x.TestA::test_b[p::q]"
    )
