"""The pytest glue: options, ini settings, markers, hook registration. No logic."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from . import _compat, hookspecs
from ._core import gcpause  # noqa: F401  (reads the collector's thresholds now, before conftests)
from ._core.settings import (
    DEFAULT_ALONE_FIXTURES,
    DEFAULT_BLOCK_THRESHOLD,
    DEFAULT_CONCURRENCY,
    DEFAULT_STALL_REPORT,
    SettingError,
    Settings,
    build_settings,
    parse_output_path,
)
from ._session import timeouts as _timeouts
from ._xdist.protocol import SIDE_CHANNEL

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from ._core.plan import OutsizedGroup

# Each role's modules (the engine, the scheduler, the summary) are imported in
# pytest_configure, once the role is known: a pytest run that merely has the
# plugin installed imports none of them.


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
    group.addoption(
        "--asyncgroup-doctor",
        dest="asyncgroup_doctor",
        action="store_true",
        default=False,
        help="record what each test touches that others can see, re-run failed tests alone, "
        "and print the conflicts between overlapping tests with the declarations that remove them",
    )
    group.addoption(
        "--asyncgroup-doctor-json",
        dest="asyncgroup_doctor_json",
        default=None,
        metavar="PATH",
        help="with --asyncgroup-doctor: write its findings to PATH as JSON",
    )
    parser.addini(
        "asyncgroup_block_threshold",
        default="",
        help=f"seconds a test's code may hold the event loop before the summary names it "
        f"(default {DEFAULT_BLOCK_THRESHOLD})",
    )
    parser.addini(
        "asyncgroup_stall_report",
        default="",
        help=f"seconds with tests in flight and none beginning or ending a phase before the worker "
        f"says where each waits; 0: never (default {DEFAULT_STALL_REPORT:g})",
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
            from ._xdist.worker import WorkerRun

            _start(config, "worker", WorkerRun(config, _settings(config)))
        return
    if _compat.requested_dist(config) != _compat.DIST_MODE:
        return
    settings = _settings(config)
    distributed = config.getoption("dist") == _compat.DIST_MODE and bool(config.getoption("tx"))
    if config.getoption("asyncgroup_plan"):
        from ._session.plan_only import PlanOnly

        names = [f"gw{i}" for i in range(_compat.worker_count(config))] if distributed else []
        config.option.dist = "no"  # xdist's own pytest_configure (trylast) starts no workers
        _start(config, "plan", PlanOnly(settings, names or ["main"]))
        return
    # xdist starts workers when --dist is not "no" and there are --tx specs (-n N
    # makes them); -n 0 sets --dist=no, leaving us in one process.
    if distributed:
        from ._xdist.controller import ControllerRun

        controller = ControllerRun(config, settings)
        _start(config, "controller", controller)
        _observe(config, settings, controller.keyed_groups, controller.outsized_groups)
    else:
        from ._session.single import OneProcessRun

        single = OneProcessRun(settings)
        _start(config, "one-process", single)
        _observe(config, settings, single.keyed_groups)


def _observe(
    config: pytest.Config,
    settings: Settings,
    groups: Callable[[], int],
    outsized: Callable[[], Sequence[OutsizedGroup[str]]] = lambda: (),
) -> None:
    from ._session.history import DurationsRecorder
    from ._session.observer import RunObserver

    if config.getoption("asyncgroup_doctor"):
        from ._session.doctor import Doctor

        path = config.getoption("asyncgroup_doctor_json")
        json_path = None if path is None else _output_path(config, path, "--asyncgroup-doctor-json")
        config.pluginmanager.register(Doctor(config, json_path), "asyncgroup-doctor")

    timeline = config.getoption("asyncgroup_timeline")
    observer = RunObserver(
        groups=groups,
        outsized=outsized,
        block_threshold=settings.block_threshold,
        timeline=None if timeline is None else (timeline, _timeline_path(config, timeline)),
        concurrency=settings.concurrency,
    )
    config.pluginmanager.register(observer, "asyncgroup-observer")
    config.pluginmanager.register(
        DurationsRecorder(observer.durations, observer.process_wide), "asyncgroup-durations"
    )


def _timeline_path(config: pytest.Config, value: str) -> Path:
    """Checked where the timeline is written (not on workers: a remote one has
    other paths); relative to where pytest was started, as ``--junitxml``."""
    return _output_path(config, value, "--asyncgroup-timeline")


def _output_path(config: pytest.Config, value: str, option: str) -> Path:
    try:
        return parse_output_path(value, config.invocation_params.dir, option)
    except SettingError as exc:
        raise pytest.UsageError(f"pytest-asyncgroup: {exc}") from None


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
            stall_report_ini=str(config.getini("asyncgroup_stall_report")),
        )
    except SettingError as exc:
        raise pytest.UsageError(f"pytest-asyncgroup: {exc}") from None
    return settings


def _start(config: pytest.Config, role: str, plugin: object) -> None:
    config.pluginmanager.register(plugin, f"asyncgroup-{role}")
    if role in ("worker", "one-process"):
        from ._session.engine_hooks import EngineHooks

        config.pluginmanager.register(EngineHooks(), "asyncgroup-engine")
        if config.getoption("asyncgroup_doctor"):
            from ._engine import TouchRecorder, recording

            recording(TouchRecorder(config.rootpath, _compat.temp_roots(config)))
        if _timeouts.pytest_timeout_active(config):
            handover = _timeouts.PytestTimeoutHandOver()
            config.pluginmanager.register(handover, "asyncgroup-timeout")
