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

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Group:
    """Tests that must run on one worker because they share resource keys."""

    keys: tuple[str, ...]
    tests: tuple[str, ...]


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
    tests: Mapping[str, Collection[str]], per_worker: Collection[str] = ()
) -> list[Group]:
    """Partition ``tests`` (test id -> keys it holds) into connected groups."""
    skip = frozenset(per_worker)
    union_find = _UnionFind()
    linking: dict[str, list[str]] = {}
    for test, keys in tests.items():
        linked = sorted(set(keys) - skip)
        linking[test] = linked
        if linked:
            union_find.union(linked)

    members: dict[str, list[str]] = {}
    group_keys: dict[str, set[str]] = {}
    order: list[str] = []
    for test, linked in linking.items():
        if not linked:
            order.append(f"\0{test}")
            members[f"\0{test}"] = [test]
            group_keys[f"\0{test}"] = set()
            continue
        root = union_find.find(linked[0])
        if root not in members:
            order.append(root)
            members[root] = []
            group_keys[root] = set()
        members[root].append(test)
        group_keys[root].update(linked)
    return [Group(tuple(sorted(group_keys[r])), tuple(members[r])) for r in order]
