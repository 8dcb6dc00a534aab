"""The pure half of ``third_party.py --doctor``: the doctor's suggestions from
several runs merged, the plugin that applies them, and how they compare with a
project's hand-written ``serial`` marks (standard library only; no runs).

Node ids name tests in the doctor's JSON and in the hand-written marks; the
runs' outcomes come from JUnit XML, keyed ``classname::name``. Both meet on
that key (:func:`junit_key`)::

    tests/test_os.py::test_rename[a]        -> tests.test_os::test_rename[a]
    tests/test_x.py::TestA::test_b          -> tests.test_x.TestA::test_b

Worked example of a tally, with hand marks ``("tests/test_os.py",)`` over a
collection of 4 tests, two of them in ``test_os.py``::

    doctor run 1: test_os.py::test_a  resource('file:f', exclusive=True)
    doctor run 2: test_os.py::test_a  resource('file:f')           (read only, this time)
                  test_misc.py::test_c  serial                    (failed only when overlapped)
    merged:       test_os.py::test_a  resource('file:f', exclusive=True)
                  test_misc.py::test_c  serial
    -> hand-marked 2, named 2, found 1 (test_a), extra 1 of the 2 unmarked (test_c),
       missed 1 (test_os.py::test_b)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Suggestion:
    """One declaration the doctor suggests: a key on a test, or ``serial``."""

    test: str
    """The test's node id."""
    key: str | None
    """``file:tests/resources/x``; ``None`` for ``serial``."""
    exclusive: bool = False
    reason: str = ""
    """Why, in short: the key's kind (``file``), or for ``serial`` ``env``/``cwd``
    (a process-wide change) or ``overlap-only`` (it failed only when overlapped,
    and no conflict the doctor can see names it)."""


def read_suggestions(found: Mapping[str, Any]) -> list[Suggestion]:
    """The suggestions in one doctor JSON (``--asyncgroup-doctor-json``)."""
    overlap_only = {entry["test"] for entry in found.get("failed_only_when_overlapped", ())}
    process_wide: dict[str, set[str]] = {}
    for conflict in found.get("conflicts", ()):
        if conflict.get("key") is None:
            for test in conflict.get("changed_by", {}):
                process_wide.setdefault(test, set()).add(str(conflict["kind"]))
    suggestions = []
    for declaration in found.get("declarations", ()):
        test, key = str(declaration["test"]), declaration["key"]
        if key is not None:
            reason = str(key).split(":", 1)[0]
        elif test in process_wide:
            reason = "+".join(sorted(process_wide[test]))
        else:
            reason = "overlap-only" if test in overlap_only else "serial"
        suggestions.append(Suggestion(test, key, bool(declaration.get("exclusive", False)), reason))
    return suggestions


def merge_suggestions(runs: Iterable[Iterable[Suggestion]]) -> list[Suggestion]:
    """The union of several runs' suggestions: one per test and key, exclusive if
    any run found the test changing the thing (a run where it only read it must
    not weaken the key), sorted."""
    merged: dict[tuple[str, str | None], Suggestion] = {}
    for suggestions in runs:
        for suggestion in suggestions:
            known = merged.get((suggestion.test, suggestion.key))
            if known is None or (suggestion.exclusive and not known.exclusive):
                merged[suggestion.test, suggestion.key] = suggestion
    return sorted(merged.values(), key=lambda s: (s.test, s.key or ""))


DECLARATIONS = '''"""Written by scripts/third_party.py --doctor: the doctor's merged suggestions."""

import pytest

KEYS = {keys!r}
SERIAL = frozenset({serial!r})


def pytest_collection_modifyitems(items):
    unmatched = set(KEYS) | SERIAL
    for item in items:
        for key, exclusive in KEYS.get(item.nodeid, ()):
            item.add_marker(pytest.mark.resource(key, exclusive=exclusive))
        if item.nodeid in SERIAL:
            item.add_marker(pytest.mark.serial)
        unmatched.discard(item.nodeid)
    if unmatched:
        raise pytest.UsageError(f"no test matches {{sorted(unmatched)}}")
'''
"""A pytest plugin applying suggestions; as the doctor's snippet, and it fails
the run if a suggested test is not collected (the key conversion went wrong)."""


def declarations_plugin(suggestions: Sequence[Suggestion]) -> str:
    """The source of a plugin that applies ``suggestions``."""
    keys: dict[str, list[tuple[str, bool]]] = {}
    serial: set[str] = set()
    for suggestion in suggestions:
        if suggestion.key is None:
            serial.add(suggestion.test)
        else:
            keys.setdefault(suggestion.test, []).append((suggestion.key, suggestion.exclusive))
    return DECLARATIONS.format(keys=dict(sorted(keys.items())), serial=sorted(serial))


def junit_key(nodeid: str) -> str:
    """The ``classname::name`` that JUnit XML gives the test ``nodeid``."""
    path, _, rest = nodeid.partition("::")
    head, bracket, parameters = rest.partition("[")
    parts = head.split("::")
    module = path.removesuffix(".py").replace("/", ".")
    return f"{'.'.join([module, *parts[:-1]])}::{parts[-1]}{bracket}{parameters}"


def listed(key: str, prefix: str) -> bool:
    """Whether the test ``key`` is under the node id ``prefix`` (a file, a class, a
    test without its parameters, or the test), as the hand-written plugin matches."""
    classname = key.partition("::")[0]
    path, _, rest = prefix.partition("::")
    module = path.removesuffix(".py").replace("/", ".")
    whole = ".".join([module, *rest.split("::")]) if rest else module
    if classname == whole or classname.startswith(whole + "."):
        return True  # a file or a class
    if not rest:
        return False
    test = junit_key(prefix)
    return key == test or key.startswith(test + "[")


def hand_marked(keys: Iterable[str], prefixes: Sequence[str]) -> set[str]:
    """The tests among ``keys`` that the hand-written marks ``prefixes`` cover."""
    return {key for key in keys if any(listed(key, prefix) for prefix in prefixes)}


@dataclass(frozen=True)
class Tally:
    """The doctor's merged suggestions against the hand-written marks (JUnit keys)."""

    tests: frozenset[str]
    """The collection (the plain run's tests)."""
    hand: frozenset[str]
    named: frozenset[str]
    """Tests with a suggestion, collected or not."""

    @property
    def found(self) -> frozenset[str]:
        return self.named & self.hand

    @property
    def extra(self) -> frozenset[str]:
        """Named, not hand-marked: flagged beyond the marks a person wrote."""
        return (self.named & self.tests) - self.hand

    @property
    def missed(self) -> frozenset[str]:
        return self.hand - self.named

    @property
    def uncollected(self) -> frozenset[str]:
        """Named, but not in the collection: a key that did not convert."""
        return self.named - self.tests

    @property
    def unmarked(self) -> int:
        return len(self.tests - self.hand)

    @property
    def extra_share(self) -> float:
        return len(self.extra) / self.unmarked if self.unmarked else 0.0

    @property
    def found_share(self) -> float:
        return len(self.found) / len(self.hand) if self.hand else 1.0


def tally(
    tests: Iterable[str], prefixes: Sequence[str], suggestions: Iterable[Suggestion]
) -> Tally:
    """Count the suggestions against the hand marks ``prefixes`` over ``tests``."""
    collection = frozenset(tests)
    return Tally(
        tests=collection,
        hand=frozenset(hand_marked(collection, prefixes)),
        named=frozenset(junit_key(s.test) for s in suggestions),
    )


BLOCKED_HEADER = "blocked the event loop longer than"


def blocked_in_summary(log: str) -> dict[str, float]:
    """The tests a run's summary names as blocking the loop, with their seconds
    (node id -> seconds), from the run's output."""
    blocked: dict[str, float] = {}
    lines = iter(log.splitlines())
    for line in lines:
        if BLOCKED_HEADER not in line:
            continue
        for entry in lines:
            nodeid, colon, seconds = entry.strip().rpartition(": ")
            if not entry.startswith("  ") or not colon or not seconds.endswith("s"):
                break
            try:
                blocked[nodeid] = max(blocked.get(nodeid, 0.0), float(seconds[:-1]))
            except ValueError:
                break
    return blocked
