"""Hooks pytest-asyncgroup adds; implement them in a conftest.py or a plugin."""

from __future__ import annotations

from collections.abc import Iterable

import pytest


@pytest.hookspec()
def pytest_asyncgroup_resources(item: pytest.Item) -> Iterable[str] | None:
    """Return extra resource keys (shared) that ``item`` holds, or None.

    The keys of every implementation are added to those of the test's
    ``resource`` marks. Use it to derive keys from the fixtures a test uses::

        def pytest_asyncgroup_resources(item):
            if "db_session" in item.fixturenames:
                return ["db"]
    """
