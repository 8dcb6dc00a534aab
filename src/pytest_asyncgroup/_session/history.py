"""Test durations from the previous run, kept in pytest's cache (``.pytest_cache``).

The scheduler reads them to place long groups first (see ``_core/plan.py``). Each run
records the total of every test's setup, call and teardown durations, merged
over what earlier runs recorded, so a run of a subset (``-k``, ``--lf``) keeps
the history of the tests it did not run.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

CACHE_KEY = "asyncgroup/durations"


def load_durations(config: pytest.Config) -> dict[str, float]:
    """nodeid -> seconds from earlier runs; empty without a cache or history."""
    cache = getattr(config, "cache", None)
    if cache is None:
        return {}
    data = cache.get(CACHE_KEY, {})
    if not isinstance(data, dict):
        return {}
    return {
        str(nodeid): float(seconds)
        for nodeid, seconds in data.items()
        if isinstance(seconds, (int, float)) and seconds >= 0
    }


class DurationsRecorder:
    """Saves this run's test durations (from ``measured``) when the session ends."""

    def __init__(self, measured: Callable[[], dict[str, float]]) -> None:
        self._measured = measured

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        cache = getattr(session.config, "cache", None)
        if cache is None:
            return
        durations = self._measured()
        if not durations:
            return
        merged = load_durations(session.config)
        merged.update({nodeid: round(seconds, 6) for nodeid, seconds in durations.items()})
        cache.set(CACHE_KEY, merged)
