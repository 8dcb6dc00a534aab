"""What earlier runs learnt, kept in pytest's cache (``.pytest_cache``).

- Test durations: the scheduler reads them to place long groups first (see
  ``_core/plan.py``). Each run records the total of every test's setup, call and
  teardown durations.
- Tests that made a change that cannot be per test (``setenv``, ``chdir``, a
  non-callable global: ``_engine/isolation.py``): the next run starts them alone,
  instead of holding the tests beside them still half-way through.

Each is merged over what earlier runs recorded, so a run of a subset (``-k``,
``--lf``) keeps the history of the tests it did not run.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

CACHE_KEY = "asyncgroup/durations"
PROCESS_WIDE_KEY = "asyncgroup/process_wide"


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


def load_process_wide(config: pytest.Config) -> dict[str, str]:
    """nodeid -> the change that cannot be per test it made in an earlier run."""
    cache = getattr(config, "cache", None)
    data = cache.get(PROCESS_WIDE_KEY, {}) if cache is not None else {}
    if not isinstance(data, dict):
        return {}
    return {str(nodeid): str(what) for nodeid, what in data.items() if what}


class DurationsRecorder:
    """Saves this run's test durations (from ``measured``) and process-wide changes
    (``process_wide``: each finished test's, "" for none) when the session ends."""

    def __init__(
        self,
        measured: Callable[[], dict[str, float]],
        process_wide: Callable[[], dict[str, str]] = dict,
    ) -> None:
        self._measured = measured
        self._process_wide = process_wide

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        cache = getattr(session.config, "cache", None)
        if cache is None:
            return
        changes = self._process_wide()
        if changes:
            known = load_process_wide(session.config)
            known.update(changes)
            cache.set(PROCESS_WIDE_KEY, {nodeid: what for nodeid, what in known.items() if what})
        durations = self._measured()
        if not durations:
            return
        merged = load_durations(session.config)
        merged.update({nodeid: round(seconds, 6) for nodeid, seconds in durations.items()})
        cache.set(CACHE_KEY, merged)
