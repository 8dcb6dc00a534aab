"""pytest-timeout's names, honoured whether or not pytest-timeout is installed.

The timeout of a test comes from its closest ``@pytest.mark.timeout(seconds)``,
else ``--timeout``, the ini ``timeout`` or the ``PYTEST_TIMEOUT`` environment
variable (pytest-timeout's order). The worker loop cancels the test's task when
it expires (``_engine/loop.py``), which a signal or a thread cannot do for one
test among many on one loop.

- Without pytest-timeout, this module adds the option, the ini setting and the
  marker, so suites written for it run unchanged.
- With pytest-timeout active, its option and ini are used, and
  :class:`PytestTimeoutHandOver` tells it to leave tests that overlap others to
  us (its ``pytest_timeout_set_timer`` hook). Tests that run alone keep its own
  timer and method, which can also interrupt synchronous code.
"""

from __future__ import annotations

import os

import pytest

TIMEOUT_PLUGIN = "timeout"  # pytest-timeout's registered name


def add_options_if_missing(config: pytest.Config, parser: pytest.Parser) -> None:
    """Register ``--timeout`` and the ini ``timeout`` unless pytest-timeout did.

    Called once every plugin given by entry point or ``-p`` is registered, and
    before pytest parses the command line for real (``pytest_load_initial_conftests``).
    """
    if config.pluginmanager.has_plugin(TIMEOUT_PLUGIN):
        return
    parser.getgroup("asyncgroup").addoption(
        "--timeout",
        dest="timeout",
        default=None,
        metavar="SECONDS",
        help="cancel each test after this many seconds (pytest-timeout's option, "
        "provided by pytest-asyncgroup when pytest-timeout is not installed)",
    )
    parser.addini("timeout", "default --timeout (pytest-asyncgroup)", default="")


def configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(TIMEOUT_PLUGIN):
        config.addinivalue_line(
            "markers",
            "timeout(seconds): cancel the test after this many seconds, setup to "
            "teardown (pytest-timeout's marker, honoured by pytest-asyncgroup)",
        )


def sources(config: pytest.Config) -> list[tuple[object, str]]:
    """Where a default timeout may come from, first given wins."""
    return [
        (config.getoption("timeout", None), "--timeout"),
        (_ini(config), "timeout (ini)"),
        (os.environ.get("PYTEST_TIMEOUT"), "PYTEST_TIMEOUT"),
    ]


def _ini(config: pytest.Config) -> object:
    try:
        return config.getini("timeout")
    except ValueError:  # neither we nor pytest-timeout registered it
        return None


def pytest_timeout_active(config: pytest.Config) -> bool:
    return config.pluginmanager.has_plugin(TIMEOUT_PLUGIN)


class PytestTimeoutHandOver:
    """Registered when pytest-timeout is active: overlapping tests are timed by us."""

    def __init__(self) -> None:
        from .._engine import in_overlapping_test  # the engine runs in this process

        self._overlapping = in_overlapping_test

    @pytest.hookimpl(tryfirst=True)
    def pytest_timeout_set_timer(self, item: pytest.Item, settings: object) -> bool | None:
        return True if self._overlapping() else None

    @pytest.hookimpl(tryfirst=True)
    def pytest_timeout_cancel_timer(self, item: pytest.Item) -> bool | None:
        return True if self._overlapping() else None
