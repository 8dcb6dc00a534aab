"""Groups: the tests connected by shared resource keys (pure; no pytest import).

Two tests belong to one group when a chain of shared keys links them: a test
holding ``db`` and ``cache`` joins the ``db`` tests and the ``cache`` tests into
one group. Per-worker keys link nothing (every worker has its own copy).

Worked example::

    a: {db}        b: {db, cache}      c: {cache}      d: {queue}      e: {}
    -> Group(keys=(cache, db), tests=(a, b, c)), Group((queue,), (d,)), Group((), (e,))

Tests without keys form one group each, so the scheduler can balance them freely.
Groups come out in the order of their first test, so equal inputs give equal output.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

TestId = TypeVar("TestId", bound=Hashable)


@dataclass(frozen=True)
class Group(Generic[TestId]):
    """Tests that must run on one worker because they share resource keys."""

    keys: tuple[str, ...]
    tests: tuple[TestId, ...]


class _UnionFind:
    def __init__(self) -> None:
        self._parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        parent = self._parent.setdefault(key, key)
        if parent != key:
            root = self.find(parent)
            self._parent[key] = root
            return root
        return key

    def union(self, keys: Iterable[str]) -> None:
        roots = sorted({self.find(key) for key in keys})
        for other in roots[1:]:
            self._parent[other] = roots[0]


def group_tests(
    tests: Mapping[TestId, Collection[str]], per_worker: Collection[str] = ()
) -> list[Group[TestId]]:
    """Partition ``tests`` (test id -> keys it holds) into connected groups."""
    skip = frozenset(per_worker)
    union_find = _UnionFind()
    linking: dict[TestId, list[str]] = {}
    for test, keys in tests.items():
        linked = sorted(set(keys) - skip) if keys else []
        linking[test] = linked
        if linked:
            union_find.union(linked)

    # A group is named by its root key, or by its only test when it has no keys.
    members: dict[tuple[bool, Hashable], list[TestId]] = {}
    group_keys: dict[tuple[bool, Hashable], set[str]] = {}
    for test, linked in linking.items():
        if not linked:
            members[(False, test)] = [test]
            continue
        name = (True, union_find.find(linked[0]))
        members.setdefault(name, []).append(test)
        group_keys.setdefault(name, set()).update(linked)
    return [Group(tuple(sorted(group_keys.get(n, ()))), tuple(members[n])) for n in members]
