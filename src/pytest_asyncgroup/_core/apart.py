"""Why a test runs alone, in the user's terms (pure).

A test runs alone in its worker (nothing else in flight there) when it is marked
``serial``, when it is a sync test without keys (its code would hold the loop
anyway), or when it requests an *alone fixture* (``asyncgroup_alone_fixtures``)
directly or through the fixtures it requests. For the last, the reason names the
chain that pulled the fixture in, as a user would look for it::

    alone fixture: frozen (autouse, conftest.py:3) -> monkeypatch
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

SERIAL = "serial mark"
SYNC = "sync test"
ALONE_FIXTURE = "alone fixture"
PROCESS_WIDE = "a change that cannot be per test, last run"


def alone_chain(
    initial: Sequence[str],
    requests: Mapping[str, Sequence[str]],
    alone_fixtures: Collection[str],
) -> list[str] | None:
    """The shortest chain of fixture names from one the test requests first
    (``initial``) to an alone fixture, following what each requests; None if none."""
    parents: dict[str, str | None] = {}
    queue: list[str] = []
    for name in initial:
        if name not in parents:
            parents[name] = None
            queue.append(name)
    for name in queue:  # grows as it goes: a breadth-first walk
        if name in alone_fixtures:
            chain = [name]
            while (parent := parents[chain[-1]]) is not None:
                chain.append(parent)
            return chain[::-1]
        for requested in requests.get(name, ()):
            if requested not in parents:
                parents[requested] = name
                queue.append(requested)
    return None


def describe_chain(chain: Sequence[str], labels: Mapping[str, str]) -> str:
    """``frozen (autouse, conftest.py:3) -> monkeypatch``: each fixture with its label."""
    return " -> ".join(f"{name} ({labels[name]})" if labels.get(name) else name for name in chain)


def advice(reason: str) -> str:
    """What would let tests held apart by ``reason`` overlap."""
    if reason.startswith(ALONE_FIXTURE):
        fixture = reason.rsplit("-> ", 1)[-1].split(" (")[0].removeprefix(f"{ALONE_FIXTURE}: ")
        return (
            f"tests requesting {fixture} run alone (asyncgroup_alone_fixtures), as it may"
            f" patch process-wide state; requesting it only in the tests that need it lets"
            f" the others overlap"
        )
    if reason.startswith(PROCESS_WIDE):
        return (
            "these tests made a change that cannot be per test in the last run (setenv,"
            " chdir, a non-callable global); patching through a function or a class"
            " attribute instead lets them overlap"
        )
    if reason == SYNC:
        return "sync tests hold the loop while they run; async tests overlap"
    return "serial tests run while no other test runs; remove the mark where it is not needed"
