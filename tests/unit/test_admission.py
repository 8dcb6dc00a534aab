"""The admission rules, checked on random workloads without asyncio."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_asyncgroup._engine import Admission, Claim

KEYS = ["db", "api", "cache"]
CLAIMS = st.builds(
    Claim,
    shared=st.frozensets(st.sampled_from(KEYS), max_size=2),
    exclusive=st.frozensets(st.sampled_from(KEYS), max_size=1),
    alone=st.booleans(),
)


def test_the_worked_example_of_the_docstring() -> None:
    admission = Admission(concurrency=10, limits={"db": 2})
    a, b = Claim(shared=frozenset({"db"})), Claim(shared=frozenset({"db"}))
    c, d, e = Claim(exclusive=frozenset({"db"})), Claim(shared=frozenset({"db"})), Claim()
    queue = [("A", a), ("B", b), ("C", c), ("D", d), ("E", e)]
    assert admission.admit(queue) == ["A", "B", "E"]
    admission.release(a)
    admission.release(b)
    assert admission.admit([("C", c), ("D", d)]) == ["C"]


def test_compatible_claims_overtake_a_waiting_one() -> None:
    admission = Admission(concurrency=10)
    admission.hold(Claim(exclusive=frozenset({"cache"})))
    waiting = Claim(shared=frozenset({"db"}), exclusive=frozenset({"cache"}))
    shares_db = Claim(shared=frozenset({"db"}))
    wants_db_alone = Claim(exclusive=frozenset({"db"}))
    assert admission.admit([("w", waiting), ("s", shares_db), ("x", wants_db_alone)]) == ["s"]


@settings(max_examples=200)
@given(st.lists(CLAIMS, min_size=1, max_size=40), st.integers(1, 8), st.randoms())
def test_random_workloads_never_break_a_rule_and_always_finish(
    claims: list[Claim], concurrency: int, rng: random.Random
) -> None:
    limits = {"api": 2}
    admission = Admission(concurrency=concurrency, limits=limits)
    waiting = dict(enumerate(claims))
    running: dict[int, Claim] = {}
    while waiting or running:
        for index in admission.admit(list(waiting.items())):
            running[index] = waiting.pop(index)
        _check(list(running.values()), concurrency, limits)
        assert running, "a non-empty queue with nothing running would never finish"
        finished = rng.choice(sorted(running))
        admission.release(running.pop(finished))
    assert admission.in_flight == 0
    assert admission.peak_in_flight <= concurrency


def _check(running: list[Claim], concurrency: int, limits: dict[str, int]) -> None:
    assert len(running) <= concurrency
    if any(claim.alone for claim in running):
        assert len(running) == 1
    for key in KEYS:
        holders = [c for c in running if key in c.shared | c.exclusive]
        if any(key in c.exclusive for c in holders):
            assert len(holders) == 1
        if key in limits:
            assert len(holders) <= limits[key]
