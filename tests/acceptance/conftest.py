"""Fixtures of the acceptance tests (the shared ones are in ``tests/conftest.py``)."""

from __future__ import annotations

import pytest

from .xdist_runs import REPORT_LOG


@pytest.fixture
def logged(suite: pytest.Pytester) -> pytest.Pytester:
    """A suite whose controller logs every report it receives (``xdist_runs.reports``)."""
    suite.makeconftest(REPORT_LOG)
    return suite
