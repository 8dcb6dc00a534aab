"""Who may start now: the per-worker cap and the per-key rules (pure, no asyncio).

A :class:`Claim` is what one test asks to hold while it runs. :class:`Admission`
counts what is held and answers, for a queue of waiting claims, which may start.

Rules, for claims admitted together in one worker:

- at most ``concurrency`` claims are held at once;
- a shared key is held by at most ``limits[key]`` claims (no limit if unset);
- an exclusive key is held by one claim and no shared holder;
- an ``alone`` claim (a sync test, a ``serial`` test, a test using a
  process-wide fixture) starts only when nothing else is held.

Fairness: :meth:`Admission.admit` scans the queue in order. A claim that cannot
start reserves its keys against later claims that conflict with it: its
exclusive keys against every later holder, its shared keys against later
exclusive holders. So no conflicting claim overtakes a waiting one (an exclusive
holder is never starved by a stream of shared ones), while compatible claims
still start. An ``alone`` claim reserves nothing and waits for the worker to
drain; it is not starved either, because the queue is finite.

Worked example with ``limits={"db": 2}``::

    queue: A(db) B(db) C(db, exclusive) D(db) E()
    admit -> [A, B, E]    # C waits for the db holders; D may not overtake C
    release A, release B
    admit -> [C]          # D waits behind C on db
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Claim:
    """What one test holds from the start of its setup to the end of its teardown."""

    shared: frozenset[str] = frozenset()
    exclusive: frozenset[str] = frozenset()
    alone: bool = False
    reason: str = field(default="", compare=False)
    """Why it runs alone (``apart.py``), for the summary."""
    keys: frozenset[str] = field(init=False, repr=False, compare=False)
    """Every key held, shared or exclusive (worked out once: asked at every start)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", self.shared | self.exclusive)


@dataclass
class KeyStatistics:
    """How one key was used: peak holders at once and how many claims held it."""

    peak_holders: int = 0
    acquisitions: int = 0


@dataclass
class Admission:
    concurrency: int
    limits: Mapping[str, int] = field(default_factory=dict)
    in_flight: int = 0
    peak_in_flight: int = 0
    _holders: dict[str, int] = field(default_factory=dict)
    _exclusive: set[str] = field(default_factory=set)
    _alone_held: bool = False
    keys: dict[str, KeyStatistics] = field(default_factory=dict)

    def fits(self, claim: Claim) -> bool:
        """Whether ``claim`` could start now, ignoring reservations."""
        if self._alone_held or self.in_flight >= self.concurrency:
            return False
        if claim.alone:
            return self.in_flight == 0
        for key in claim.exclusive:
            if self._holders.get(key, 0):
                return False
        for key in claim.shared:
            if key in self._exclusive:
                return False
            limit = self.limits.get(key)
            if limit is not None and self._holders.get(key, 0) >= limit:
                return False
        return True

    def hold(self, claim: Claim) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self._alone_held = self._alone_held or claim.alone
        self._exclusive.update(claim.exclusive)
        for key in claim.keys:
            count = self._holders.get(key, 0) + 1
            self._holders[key] = count
            stats = self.keys.setdefault(key, KeyStatistics())
            stats.acquisitions += 1
            stats.peak_holders = max(stats.peak_holders, count)

    def release(self, claim: Claim) -> None:
        self.in_flight -= 1
        if claim.alone:
            self._alone_held = False
        self._exclusive.difference_update(claim.exclusive)
        for key in claim.keys:
            self._holders[key] -= 1

    def admit(
        self,
        queue: Iterable[tuple[T, Claim]],
        on_key_wait: Callable[[T, str], None] | None = None,
    ) -> list[T]:
        """Hold and return the waiting entries that may start now, in queue order.

        ``on_key_wait(entry, key)`` hears of each entry held back by a key (held
        by others, at its limit, or reserved by an earlier waiting claim).
        """
        started: list[T] = []
        reserved_for_all: set[str] = set()  # keys a waiting claim wants exclusively
        reserved_for_shared: set[str] = set()  # keys a waiting claim wants shared
        for entry, claim in queue:
            if self._alone_held or self.in_flight >= self.concurrency:
                break
            overtakes = not reserved_for_all.isdisjoint(
                claim.keys
            ) or not reserved_for_shared.isdisjoint(claim.exclusive)
            if not overtakes and self.fits(claim):
                self.hold(claim)
                started.append(entry)
            elif not claim.alone:
                if on_key_wait is not None:
                    key = self._blocking_key(claim, reserved_for_all, reserved_for_shared)
                    if key is not None:
                        on_key_wait(entry, key)
                reserved_for_all |= claim.exclusive
                reserved_for_shared |= claim.shared
        return started

    def _blocking_key(
        self, claim: Claim, reserved_for_all: set[str], reserved_for_shared: set[str]
    ) -> str | None:
        for key in sorted(claim.exclusive):
            if self._holders.get(key, 0) or key in reserved_for_all | reserved_for_shared:
                return key
        for key in sorted(claim.shared):
            limit = self.limits.get(key)
            full = limit is not None and self._holders.get(key, 0) >= limit
            if key in self._exclusive or key in reserved_for_all or full:
                return key
        return None
