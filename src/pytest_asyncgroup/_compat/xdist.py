"""pytest-xdist's and execnet's internals: the --dist option, the controller, the workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

DIST_MODE = "asyncgroup"


# --- xdist's --dist option -------------------------------------------------------
# xdist declares --dist with a fixed ``choices`` list (xdist issue #970). Both
# pytest 8.3 (``Argument._attrs``) and 9.x (``Argument.attrs()`` is the argparse
# action's ``__dict__``) keep the very list xdist passed, so appending to it is
# enough, as long as it happens before pytest parses the command line for real.
# Checked: pytest 8.3.5 and 9.2.0 with pytest-xdist 3.6.1 and 3.8.0.


def add_dist_choice(parser: pytest.Parser) -> bool:
    """Make ``--dist=asyncgroup`` acceptable; True once the option was found."""
    for group in getattr(parser, "_groups", ()):
        for option in group.options:
            if "--dist" in option.names():
                choices = option.attrs().get("choices")
                if choices is not None and DIST_MODE not in choices:
                    choices.append(DIST_MODE)
                return True
    return False


def parser_of(pluginmanager: pytest.PytestPluginManager) -> pytest.Parser | None:
    """The command-line parser, reached through the registered config object."""
    config = pluginmanager.get_plugin("pytestconfig")
    return getattr(config, "_parser", None)


def requested_dist(config: pytest.Config) -> str:
    """The --dist value the user gave. xdist turns ``-n 0`` into ``dist="no"``, but
    ``known_args_namespace`` keeps the original (checked on xdist 3.6.1, 3.8.0)."""
    if config.getoption("dist", "no") == DIST_MODE:
        return DIST_MODE
    namespace = getattr(config, "known_args_namespace", None)
    return str(getattr(namespace, "dist", "no"))


# --- xdist: controller and workers -------------------------------------------------
# The scheduler protocol (``xdist.scheduler.protocol.Scheduling``), the
# ``pytest_xdist_make_scheduler`` and ``pytest_configure_node`` hooks, and
# ``WorkerController.workerinput``/``send_runtest_some``/``send_steal``/
# ``sendcommand``/``shutting_down``/``gateway`` are xdist's documented surface for
# schedulers (``send_steal`` and the ``unscheduled`` answer since xdist 3.2).
# What follows is not. Checked: pytest-xdist 3.6.1 and 3.8.0, execnet 2.1.1/2.1.2.


def worker_count(config: pytest.Config) -> int:
    """How many workers the run starts with (``-n``/``--tx``), as xdist counts them.

    xdist 3.6 names the function ``parse_spec_config``; 3.8 ``parse_tx_spec_config``.
    """
    from xdist import workermanage

    name = "parse_tx_spec_config"
    if not hasattr(workermanage, name):
        name = "parse_spec_config"
    return len(getattr(workermanage, name)(config))


def max_worker_restart(config: pytest.Config) -> int | None:
    """How many crashed workers xdist replaces (None: no limit), as DSession decides."""
    from xdist.dsession import get_default_max_worker_restart

    return get_default_max_worker_restart(config)


def collection_difference(
    first: list[str], other: list[str], first_id: str, other_id: str
) -> str | None:
    """xdist's own description of two workers' different collections (None: equal)."""
    from xdist.report import report_collection_diff

    return report_collection_diff(first, other, first_id, other_id)


def worker_input(config: pytest.Config) -> dict[str, Any] | None:
    """On an xdist worker, the dict the controller sent (``config.workerinput``)."""
    return getattr(config, "workerinput", None)


def worker_id(config: pytest.Config) -> str:
    """On an xdist worker, its id (``gw0``...), from ``workerinput``."""
    return str((worker_input(config) or {}).get("workerid", "?"))


def worker_share(config: pytest.Config) -> tuple[int, int]:
    """On an xdist worker, its number and the number of workers (``gw3`` of 4:
    ``(3, 4)``; a replacement ``gw4`` of 4 takes ``gw0``'s: ``(0, 4)``), from
    ``workerinput`` (``workerid``, ``workercount``: xdist 3.6-3.8); ``(0, 1)``
    elsewhere."""
    given = worker_input(config) or {}
    workers = given.get("workercount")
    digits = str(given.get("workerid", "")).removeprefix("gw")
    if not isinstance(workers, int) or workers < 1 or not digits.isdigit():
        return (0, 1)
    return (int(digits) % workers, workers)


def worker_output(node: Any) -> dict[str, Any]:
    """What a finished worker sent with "workerfinished" (``node.workeroutput``,
    set by ``DSession.worker_workerfinished`` before ``pytest_testnodedown``;
    ``shouldstop``/``shouldfail`` are its session's, xdist 3.6-3.8)."""
    return getattr(node, "workeroutput", None) or {}


def worker_interactor(config: pytest.Config) -> Any:
    """xdist's ``WorkerInteractor`` on a worker.

    ``xdist/remote.py`` runs as execnet's ``__channelexec__``, so the class cannot
    be imported; its instance registers itself as an unnamed plugin. We use its
    ``channel`` (commands arrive there), ``sendevent(name, **kwargs)`` and the
    ``item_index`` attribute its ``pytest_runtest_logreport`` stamps on reports.
    """
    for plugin in config.pluginmanager.get_plugins():
        if type(plugin).__name__ == "WorkerInteractor" and hasattr(plugin, "sendevent"):
            return plugin
    raise RuntimeError("pytest-asyncgroup: xdist's worker interactor is not registered")


def worker_event_sender(interactor: Any) -> Callable[[str, dict[str, Any]], None]:
    """Send one event to the controller, as xdist's worker does (``sendevent``)."""
    sendevent = interactor.sendevent
    return lambda name, kwargs: sendevent(name, **kwargs)


def route_worker_events(
    interactor: Any, route: Callable[[str, dict[str, Any]], None]
) -> Callable[[], None]:
    """Send the worker's events through ``route`` instead; return the undo.

    Every event of xdist's worker goes through ``WorkerInteractor.sendevent``
    (``self.sendevent(...)`` in ``xdist/remote.py``); an instance attribute
    shadows the method, and deleting it restores the method.
    """

    def sendevent(name: str, **kwargs: Any) -> None:
        route(name, kwargs)

    interactor.sendevent = sendevent
    return lambda: interactor.__dict__.pop("sendevent", None)


def unpack_worker_events(node: Any, unpack: Callable[[Any], list[Any]]) -> None:
    """Have the controller's ``node`` handle each event ``unpack`` finds in a message.

    ``WorkerController.setup`` calls ``pytest_configure_node`` and then registers
    ``self.process_from_remote`` as the channel's callback (execnet's receiver
    thread calls it per message, and with its end marker); an instance
    attribute set in ``pytest_configure_node`` is what it registers.
    """
    original = node.process_from_remote

    def process_from_remote(eventcall: Any) -> None:
        for event in unpack(eventcall):
            original(event)

    node.process_from_remote = process_from_remote


def worker_is_local(node: Any) -> bool:
    """Whether ``node``'s worker runs on this machine, sharing its files.

    ``node.gateway.spec`` is execnet's ``XSpec`` of ``--tx``: ``popen`` (the
    default of ``-n``) without ``via`` starts a subprocess here; ``socket``,
    ``ssh`` and ``via`` reach another interpreter, maybe elsewhere. Checked:
    execnet 2.1.1, 2.1.2 (pytest-xdist 3.6.1, 3.8.0).
    """
    spec = getattr(getattr(node, "gateway", None), "spec", None)
    return bool(getattr(spec, "popen", False)) and not getattr(spec, "via", None)


# --- which worker a report came from ----------------------------------------------
# xdist's worker adds ``worker_id`` ("gw0") to each serialized report, and the
# controller's unserialized report keeps it as an attribute. Checked: xdist 3.6.1,
# 3.8.0.


def report_worker(report: pytest.TestReport) -> str:
    """``gw0``... for a report from an xdist worker, ``main`` in one process."""
    return str(getattr(report, "worker_id", None) or "main")


# --- xdist's wire: commands, events, item indices, the crash report --------------
# The names of the commands the controller sends a worker and of the events a
# worker sends back (``xdist/remote.py``, ``xdist/dsession.py``; unknown commands
# are ignored, unknown events are an INTERNALERROR), the ``item_index`` that
# ``WorkerInteractor.pytest_runtest_logreport`` stamps on each report, and the
# shape of the report ``DSession.handle_crashitem`` makes for a crashed test.
# Checked: pytest-xdist 3.6.1, 3.8.0.

RUNTESTS = "runtests"
RUNTESTS_ALL = "runtests_all"
SHUTDOWN = "shutdown"
STEAL = "steal"
"""Commands: run these indices, run every test, no more tests, give back these."""

UNSCHEDULED = "unscheduled"
LOGSTART = "logstart"
PROTOCOL_COMPLETE = "runtest_protocol_complete"
LOGFINISH = "logfinish"
TESTREPORT = "testreport"
"""Events: the indices given back, a test's start, a test done (once per index), its log
end, a report. ``logstart`` carries ``nodeid`` and ``location`` (``item.location``)."""


def set_item_index(interactor: Any, index: int) -> None:
    """The index xdist's worker stamps on the next report it sends."""
    interactor.item_index = index


def crash_report(nodeid: str, message: str, node: Any) -> pytest.TestReport:
    """A failed report for ``nodeid``, as xdist's own for a test a crash took
    (``when="???"``, the location's line unknown, ``report.node`` the worker)."""
    path = nodeid.split("::")[0]
    report = pytest.TestReport(
        nodeid=nodeid,
        location=(path, None, path),
        keywords={},
        outcome="failed",
        longrepr=message,
        when="???",  # type: ignore[arg-type]
    )
    report.node = node  # type: ignore[attr-defined]
    return report
