"""What a test declares about the resources it touches.

A :class:`Declaration` is a frozen value built once per test at collection time
(see ``markers.py``) and read by grouping, scheduling and admission.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Declaration:
    """The resource keys one test holds while it runs, and how.

    ``shared`` keys may be held by other tests at the same time (up to the key's
    limit); ``exclusive`` keys are held by this test alone. A key declared both
    ways is exclusive. ``serial`` tests run while no other test runs anywhere.
    """

    shared: frozenset[str] = frozenset()
    exclusive: frozenset[str] = frozenset()
    serial: bool = False

    def __post_init__(self) -> None:
        if self.shared & self.exclusive:
            object.__setattr__(self, "shared", self.shared - self.exclusive)

    @property
    def keys(self) -> frozenset[str]:
        """Every key the test holds, shared or exclusive."""
        return self.shared | self.exclusive

    def without(self, keys: frozenset[str]) -> frozenset[str]:
        """The held keys minus ``keys`` (for example minus per-worker keys)."""
        return self.keys - keys


NO_RESOURCES = Declaration()
