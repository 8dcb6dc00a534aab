"""anyio's pytest plugin: which backend a test runs on."""

from __future__ import annotations

from typing import Any

import pytest

from .pytest import fixture_names

# --- anyio's pytest plugin --------------------------------------------------------
# A test marked ``anyio`` runs on the backend its ``anyio_backend`` fixture names:
# a string, or a ``(name, options)`` tuple. anyio parametrizes that fixture (by
# default over every installed backend: asyncio, and trio when installed) or the
# suite overrides it. anyio's own ``pytest_pyfunc_call`` and ``pytest_fixture_setup``
# run the test and its async fixtures with that backend's runner. Checked: anyio 4.16.

ANYIO_BACKEND = "anyio_backend"


def anyio_backend_name(value: Any) -> str | None:
    """The backend an ``anyio_backend`` fixture value names (None: not one)."""
    if isinstance(value, str):
        return value
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        return value[0]
    return None


def anyio_backend_at_collection(item: pytest.Item) -> str | None:
    """The anyio backend a test will run on, when its parameters already say so."""
    if ANYIO_BACKEND not in fixture_names(item):
        return None
    callspec = getattr(item, "callspec", None)
    params = getattr(callspec, "params", None) or {}
    return anyio_backend_name(params.get(ANYIO_BACKEND))
