"""The pytest glue: options, ini settings, markers, hook registration. No logic."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest

from . import _compat, _timeouts, hookspecs
from ._controller import ControllerRun
from ._declarations import declarations_error, declare_all
from ._history import DurationsRecorder
from ._observer import RecordAttacher, RunObserver
from ._plan_only import PlanOnly
from ._protocol import SIDE_CHANNEL
from ._settings import (
    DEFAULT_ALONE_FIXTURES,
    DEFAULT_BLOCK_THRESHOLD,
    DEFAULT_CONCURRENCY,
    SettingError,
    Settings,
    build_settings,
)
from ._single import OneProcessRun
from ._worker import WorkerRun
from .executor import async_fixture_as_sync, call_async_test

ROLE = pytest.StashKey[str]()
"""``one-process``, ``controller`` or ``worker``: where this process sits in the run."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = parser.getgroup("asyncgroup", "pytest-asyncgroup (--dist=asyncgroup)")
    group.addoption(
        "--asyncgroup-concurrency",
        dest="asyncgroup_concurrency",
        default=None,
        metavar="N",
        help=f"most tests in flight at once per worker (default: ini or {DEFAULT_CONCURRENCY})",
    )
    parser.addini(
        "asyncgroup_concurrency",
        default="",
        help=f"most tests in flight at once per worker (default {DEFAULT_CONCURRENCY})",
    )
    parser.addini(
        "asyncgroup_limits",
        type="args",
        default=[],
        help="per-key capacity, KEY=N ...: at most N tests hold KEY at once",
    )
    parser.addini(
        "asyncgroup_per_worker",
        type="args",
        default=[],
        help="keys every worker has its own copy of: they join no groups",
    )
    group.addoption(
        "--asyncgroup-timeline",
        dest="asyncgroup_timeline",
        default=None,
        metavar="PATH",
        help="write a Chrome trace (Perfetto, chrome://tracing) of the run to PATH",
    )
    group.addoption(
        "--asyncgroup-plan",
        dest="asyncgroup_plan",
        action="store_true",
        default=False,
        help="print the groups and the worker each would go to, then exit without running",
    )
    parser.addini(
        "asyncgroup_block_threshold",
        default="",
        help=f"seconds a test's code may hold the event loop before the summary names it "
        f"(default {DEFAULT_BLOCK_THRESHOLD})",
    )
    parser.addini(
        "asyncgroup_alone_fixtures",
        type="args",
        default=list(DEFAULT_ALONE_FIXTURES),
        help="fixtures with process-wide effects: tests using them run alone in their worker",
    )
    _compat.add_dist_choice(parser)


def pytest_plugin_registered(plugin: object, manager: pytest.PytestPluginManager) -> None:
    # xdist registered after us (for example with ``-p pytest_asyncgroup``).
    parser = _compat.parser_of(manager)
    if parser is not None:
        _compat.add_dist_choice(parser)


def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser) -> None:
    _timeouts.add_options_if_missing(early_config, parser)


def pytest_configure(config: pytest.Config) -> None:
    _timeouts.configure(config)
    config.addinivalue_line(
        "markers",
        "resource(*keys, exclusive=False): the test holds these resource keys "
        "(pytest-asyncgroup); exclusive: no other holder overlaps it",
    )
    config.addinivalue_line(
        "markers", "serial: the test runs while no other test runs (pytest-asyncgroup)"
    )
    workerinput = _compat.worker_input(config)
    if workerinput is not None:  # an xdist worker: only ours have the side channel
        if SIDE_CHANNEL in workerinput:
            _start(config, "worker", WorkerRun(config, _settings(config)))
        return
    if _compat.requested_dist(config) != _compat.DIST_MODE:
        return
    settings = _settings(config)
    distributed = config.getoption("dist") == _compat.DIST_MODE and bool(config.getoption("tx"))
    if config.getoption("asyncgroup_plan"):
        names = [f"gw{i}" for i in range(_compat.worker_count(config))] if distributed else []
        config.option.dist = "no"  # xdist's own pytest_configure (trylast) starts no workers
        _start(config, "plan", PlanOnly(settings, names or ["main"]))
        return
    # xdist starts workers when --dist is not "no" and there are --tx specs (-n N
    # makes them); -n 0 sets --dist=no, leaving us in one process.
    if distributed:
        controller = ControllerRun(config, settings)
        _start(config, "controller", controller)
        _observe(config, settings, controller.keyed_groups)
    else:
        single = OneProcessRun(settings)
        _start(config, "one-process", single)
        _observe(config, settings, single.keyed_groups)


def _observe(config: pytest.Config, settings: Settings, groups: Callable[[], int]) -> None:
    observer = RunObserver(
        groups=groups,
        block_threshold=settings.block_threshold,
        timeline=config.getoption("asyncgroup_timeline"),
    )
    config.pluginmanager.register(observer, "asyncgroup-observer")
    config.pluginmanager.register(DurationsRecorder(observer.durations), "asyncgroup-durations")


def _settings(config: pytest.Config) -> Settings:
    try:
        settings = build_settings(
            concurrency_option=config.getoption("asyncgroup_concurrency"),
            concurrency_ini=str(config.getini("asyncgroup_concurrency")),
            limits_ini=config.getini("asyncgroup_limits"),
            per_worker_ini=config.getini("asyncgroup_per_worker"),
            alone_fixtures_ini=config.getini("asyncgroup_alone_fixtures"),
            timeout_sources=_timeouts.sources(config),
            pytest_timeout_active=_timeouts.pytest_timeout_active(config),
            block_threshold_ini=str(config.getini("asyncgroup_block_threshold")),
        )
    except SettingError as exc:
        raise pytest.UsageError(f"pytest-asyncgroup: {exc}") from None
    return settings


def _start(config: pytest.Config, role: str, plugin: object) -> None:
    config.stash[ROLE] = role
    config.pluginmanager.register(plugin, f"asyncgroup-{role}")
    if role in ("worker", "one-process"):
        config.pluginmanager.register(RecordAttacher(), "asyncgroup-records")
        if _timeouts.pytest_timeout_active(config):
            handover = _timeouts.PytestTimeoutHandOver()
            config.pluginmanager.register(handover, "asyncgroup-timeout")


def pytest_collection_finish(session: pytest.Session) -> None:
    # Workers send their problems to the controller, which stops the run.
    if session.config.stash.get(ROLE, None) == "one-process":
        problems = declare_all(session.items)
        if problems:
            raise declarations_error(problems)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    return True if call_async_test(pyfuncitem) else None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(
    fixturedef: Any, request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    with async_fixture_as_sync(fixturedef, request):
        return (yield)
