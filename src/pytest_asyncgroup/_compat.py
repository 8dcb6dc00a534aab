"""Every touch of pytest, pytest-xdist and pytest-asyncio internals, in one place.

Each function says which private names it relies on and the versions it was
checked on. Supported: pytest 8.3 - 9.2, pytest-xdist 3.6 - 3.8,
pytest-asyncio 1.x (optional). The test suite runs against the oldest and the
newest of these (see ``noxfile.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import functools
import inspect
import os
import sys
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest
from _pytest import capture as _capture
from _pytest import fixtures as _fixtures
from _pytest import logging as _logging
from _pytest import runner as _runner
from _pytest.scope import Scope

DIST_MODE = "asyncgroup"


# --- asyncio's running loop ---------------------------------------------------------
# A test's synchronous code runs in its greenlet with no loop running, as in a plain
# run (so ``asyncio.run`` works there); the bridge unsets and restores the running
# loop around each such step with asyncio's own setter, which the C accelerator and
# the pure-Python module share (``asyncio.events``). The same objects, not wrappers:
# they are called at every step. Checked: Python 3.10, 3.11, 3.12, 3.13.

set_running_loop = asyncio.events._set_running_loop
"""Make ``loop`` (or None) the running loop of this thread."""
running_loop_or_none = asyncio.events._get_running_loop
"""The running loop of this thread, or None (no error, unlike ``get_running_loop``)."""


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


# --- the SetupState --------------------------------------------------------------
# ``session._setupstate`` is one stack per session (pytest 8.3 and 9.2). pytest
# calls ``setup(item)``, ``teardown_exact(nextitem)``, ``addfinalizer(fin, node)``,
# and since 9.1 ``is_node_active(node)`` and ``.stack`` (fixtures.py). We install
# an object with that interface for the run and put the original back after.


@contextlib.contextmanager
def setupstate_replaced(session: pytest.Session, replacement: object) -> Iterator[None]:
    original = session._setupstate
    session._setupstate = replacement  # type: ignore[assignment]
    try:
        yield
    finally:
        session._setupstate = original


# What pytest's runner catches as a test's outcome (pytest 8.3, 9.2).
TEST_OUTCOME: tuple[type[BaseException], ...] = _runner.TEST_OUTCOME  # type: ignore[attr-defined]

if sys.version_info >= (3, 11):
    from builtins import BaseExceptionGroup as BaseExceptionGroup
else:  # Python 3.10: the backport pytest itself depends on
    from exceptiongroup import BaseExceptionGroup as BaseExceptionGroup


# --- per-test and per-node FixtureDefs ---------------------------------------------
# A FixtureDef caches one value (``cached_result``) and one ``_finalizers`` list for
# every test, and every node: a module fixture of a ``conftest.py`` is one
# FixtureDef for all its modules, cached under the parameter index only. pytest
# relies on its one-stack SetupState to finish one module's instance before the
# next module asks. Overlapping tests instead get, per FixtureDef, the copy that
# belongs to the node pytest caches its value on (``caching_node``), installed
# through ``item._fixtureinfo`` (a frozen dataclass: ``name2fixturedefs``) and
# ``item._initrequest()``.
# pytest 8.3's TopRequest copies ``name2fixturedefs`` (``.copy()``); 9.x uses it as
# is and no longer caches dynamic ``getfixturevalue`` look-ups in it. The dict
# below answers a look-up miss with the chosen instances itself, and copies as
# its own type. ``runtestprotocol`` drops ``item._request`` after the teardown, so
# nothing of a run's copies outlives it on the item.
# Checked: pytest 8.3.5, 9.2.0.

FixtureDefChoice = Callable[[pytest.Item, Any], Any]
"""Given a test and one of its FixtureDefs, the FixtureDef object it is to use."""


def is_function_scoped(fixturedef: Any) -> bool:
    return getattr(fixturedef, "_scope", None) is Scope.Function


def caching_node(item: pytest.Item, fixturedef: Any) -> Any:
    """The node whose instance of ``fixturedef`` the test ``item`` gets.

    As ``SubRequest.__init__`` decides (pytest 8.3, 9.2): the scope is the
    parametrization's (``callspec._arg2scope``) for a parametrized name, else the
    fixture's; a package fixture belongs to the package that defines it (else the
    session: ``get_scope_package``); a class fixture outside a class falls back to
    the test itself.
    """
    scope = fixturedef._scope
    callspec = getattr(item, "callspec", None)
    if callspec is not None and fixturedef.argname in callspec.params:
        scope = callspec._arg2scope.get(fixturedef.argname, scope)
    if scope is Scope.Function:
        return item
    if scope is Scope.Package:
        return _fixtures.get_scope_package(item, fixturedef)
    return _fixtures.get_scope_node(item, scope) or item


def empty_copy(fixturedef: Any) -> Any:
    """A FixtureDef like ``fixturedef`` with nothing cached and no finalizers."""
    clone = copy.copy(fixturedef)
    clone.cached_result = None
    clone._finalizers = []
    return clone


class _ChosenFixtureDefs(dict):  # type: ignore[type-arg]
    """name -> FixtureDefs for one test, each the one ``choose`` picks for it."""

    def __init__(self, item: pytest.Item, choose: FixtureDefChoice, data: dict[str, Any]) -> None:
        super().__init__(data)
        self._item = item
        self._choose = choose

    def get(self, name: str, default: Any = None) -> Any:
        if name in self:
            return self[name]
        found = self._item.session._fixturemanager.getfixturedefs(name, self._item)
        if found is None:
            return default
        chosen = tuple(self._choose(self._item, fixturedef) for fixturedef in found)
        self[name] = chosen
        return chosen

    def copy(self) -> _ChosenFixtureDefs:
        return _ChosenFixtureDefs(self._item, self._choose, dict(self))


def fixturedefs_chosen(item: pytest.Item, choose: FixtureDefChoice) -> Callable[[], None]:
    """Have ``item`` use, for each of its FixtureDefs, the one ``choose`` picks
    (now and for dynamic ``getfixturevalue``); return the undo."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None or not hasattr(item, "_initrequest"):
        return _nothing_to_undo
    chosen = _ChosenFixtureDefs(
        item,
        choose,
        {
            name: tuple(choose(item, fixturedef) for fixturedef in fixturedefs)
            for name, fixturedefs in info.name2fixturedefs.items()
        },
    )
    item._fixtureinfo = dataclasses.replace(info, name2fixturedefs=chosen)  # type: ignore[attr-defined]
    item._initrequest()

    def undo() -> None:
        item._fixtureinfo = info  # type: ignore[attr-defined]

    return undo


def test_argnames(item: pytest.Item) -> tuple[str, ...]:
    """The fixture names the test function takes as arguments (pytest 8.3, 9.2)."""
    return tuple(item._fixtureinfo.argnames)  # type: ignore[attr-defined]


def fixture_names(item: pytest.Item) -> Sequence[str]:
    """Every fixture the test requests statically (closure, autouse included); not a copy."""
    names: Sequence[str] = getattr(item, "fixturenames", ())
    return names


_NO_PARAMS: Mapping[str, int] = {}


def higher_scope_params(item: pytest.Item) -> Mapping[str, int]:
    """Parameter indices of the test's parameters whose scope is above function.

    Two tests whose class/module/session fixtures take different parameters must
    not overlap: the second would tear down the first's instance
    (``FixtureDef.execute`` -> ``finish`` on a cache-key change). Uses
    ``callspec._arg2scope`` and ``callspec.indices`` (pytest 8.3, 9.2).
    """
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return _NO_PARAMS
    scopes = getattr(callspec, "_arg2scope", {})
    if all(scope is Scope.Function for scope in scopes.values()):
        return _NO_PARAMS  # the usual case: nothing to compare, nothing to build
    return {
        name: index
        for name, index in callspec.indices.items()
        if scopes.get(name, Scope.Function) is not Scope.Function
    }


# --- higher-scoped fixtures: one first execution at a time ----------------------
# While test A is suspended inside a module fixture's setup, test B reaching the
# same FixtureDef would start a second setup (pytest asserts ``not
# self._finalizers``). ``FixtureDef.execute`` (pytest 8.3, 9.2) is wrapped for the
# run; the wrapper decides whether to wait first.


@contextlib.contextmanager
def fixture_execute_wrapped(
    wrap: Callable[[Callable[[Any, Any], Any], Any, Any], Any],
) -> Iterator[None]:
    original = _fixtures.FixtureDef.execute

    def execute(self: Any, request: Any) -> Any:
        __tracebackhide__ = True
        return wrap(original, self, request)

    _fixtures.FixtureDef.execute = execute  # type: ignore[method-assign]
    try:
        yield
    finally:
        _fixtures.FixtureDef.execute = original  # type: ignore[method-assign]


# --- async fixtures --------------------------------------------------------------
# ``pytest_fixture_setup`` calls ``resolve_fixture_function(fixturedef, request)``
# (binds class fixtures to the test's instance), then the function. We resolve the
# function ourselves and swap ``fixturedef.func`` for a sync shim while pytest's
# own hook runs, so its caching, finalizers and yield-teardown stay pytest's.
# ``FixtureDef.func`` is typed Final but is a plain attribute (pytest 8.3, 9.2).


def resolve_fixture_function(fixturedef: Any, request: Any) -> Callable[..., Any]:
    return _fixtures.resolve_fixture_function(fixturedef, request)


@contextlib.contextmanager
def fixture_function_swapped(fixturedef: Any, function: Callable[..., Any]) -> Iterator[None]:
    original = fixturedef.func
    fixturedef.func = function
    try:
        yield
    finally:
        fixturedef.func = original


# --- PYTEST_CURRENT_TEST ---------------------------------------------------------
# ``_pytest.runner._update_current_test_var`` pops the variable with
# ``os.environ.pop(name)``: with overlapping tests the second pop raises KeyError.
# pytest 8.3, 9.2 call it through the module global, so a replacement works.


@contextlib.contextmanager
def current_test_var_tolerant(
    on_phase: Callable[[pytest.Item, str | None], None] | None = None,
) -> Iterator[None]:
    """Set ``PYTEST_CURRENT_TEST`` tolerantly; tell ``on_phase`` each phase as it starts."""

    def update(item: pytest.Item, when: str | None) -> None:
        if when:
            value = f"{item.nodeid} ({when})".replace("\x00", "(null)")
            os.environ["PYTEST_CURRENT_TEST"] = value
        else:
            os.environ.pop("PYTEST_CURRENT_TEST", None)
        if on_phase is not None:
            on_phase(item, when)

    original = _runner._update_current_test_var
    _runner._update_current_test_var = update
    try:
        yield
    finally:
        _runner._update_current_test_var = original


# --- pytest-asyncio items --------------------------------------------------------
# pytest-asyncio 1.x replaces async test items with ``PytestAsyncioFunction``
# subclasses whose ``setup`` requests a ``_<scope>_scoped_runner`` fixture (a new
# event loop) and whose ``runtest`` calls ``Runner.run`` - which raises inside a
# running loop. For our run the item uses plain ``pytest.Function``'s methods; our
# ``pytest_pyfunc_call`` then awaits the test body on the worker's loop.
# Checked: pytest-asyncio 1.5.0 (class name and the two methods).


def loop_factories_hooked(config: pytest.Config) -> bool:
    """Whether any plugin or conftest implements pytest-asyncio's (1.5)
    ``pytest_asyncio_loop_factories`` hook; without one, no test asks."""
    anywhere = getattr(config.hook, "pytest_asyncio_loop_factories", None)
    return anywhere is not None and bool(anywhere.get_hookimpls())


def asks_for_own_loops(item: pytest.Item) -> bool:
    """Whether pytest-asyncio's ``pytest_asyncio_loop_factories`` hook (1.5) is
    implemented for this async test: it would run on loops the hook makes."""
    if not loop_factories_hooked(item.config):
        return False  # the common case, without looking up each test's conftests
    hook = getattr(item.ihook, "pytest_asyncio_loop_factories", None)
    if hook is None or not hook.get_hookimpls():
        return False
    function = getattr(item, "obj", None)
    return function is not None and inspect.iscoroutinefunction(function)


# pytest-asyncio's ``event_loop_policy`` fixture (in ``pytest_asyncio.plugin``)
# gives the policy its runners make loops with; a suite may override it (for
# uvloop, or parametrized to run each test under several policies). It is in
# every test's closure while pytest-asyncio is active. pytest-asyncio itself
# tells an override by the fixture function's module.
# Checked: pytest-asyncio 1.5.0 (pytest 8.3.5 and 9.2.0: ``_fixtureinfo``).

_PYTEST_ASYNCIO_PLUGIN = "pytest_asyncio.plugin"


def loop_policy_override(item: pytest.Item) -> str | None:
    """Where the ``event_loop_policy`` fixture that async test ``item`` would get
    is defined, if that is not pytest-asyncio's own (None for a sync test)."""
    if not inspect.iscoroutinefunction(getattr(item, "obj", None)):
        return None
    info = getattr(item, "_fixtureinfo", None)
    fixturedefs = info.name2fixturedefs.get("event_loop_policy") if info is not None else None
    if not fixturedefs:
        return None
    function = fixturedefs[-1].func
    module = getattr(function, "__module__", None)
    if module == _PYTEST_ASYNCIO_PLUGIN:
        return None
    path = getattr(getattr(function, "__code__", None), "co_filename", None)
    return os.path.relpath(path, item.config.rootpath) if path else str(module)


@functools.cache
def _is_pytest_asyncio_item(item_type: type) -> bool:
    return any(
        cls.__name__ == "PytestAsyncioFunction" and cls.__module__.startswith("pytest_asyncio")
        for cls in item_type.__mro__
    )


def _nothing_to_undo() -> None:
    pass


def plain_function_methods(item: pytest.Item) -> Callable[[], None]:
    """Route a pytest-asyncio item through plain ``Function`` setup/runtest; return undo."""
    if not _is_pytest_asyncio_item(type(item)):
        return _nothing_to_undo
    item.setup = types.MethodType(pytest.Function.setup, item)  # type: ignore[method-assign]
    item.runtest = types.MethodType(pytest.Function.runtest, item)  # type: ignore[method-assign]

    def undo() -> None:
        del item.setup
        del item.runtest

    return undo


# --- pytest-asyncio's loop scopes ---------------------------------------------------
# pytest-asyncio runs each async test and fixture on the loop of its *loop scope*
# and closes that loop (cancelling the tasks still on it) when the scope ends. A
# test's loop scope: its ``asyncio`` marker's ``loop_scope`` (or older ``scope``)
# keyword, else the ini ``asyncio_default_test_loop_scope`` ("function"). An async
# fixture's: ``_loop_scope`` set on its function by ``pytest_asyncio.fixture``,
# else the ini ``asyncio_default_fixture_loop_scope``, else (unset, or
# "fixture-scope") the fixture's scope. Checked: pytest-asyncio 1.5.0
# (``PytestAsyncioFunction._loop_scope``, ``_make_asyncio_fixture_function``,
# ``pytest_fixture_setup``).
# Without pytest-asyncio, a test's is "function" and a fixture's is its scope.

FUNCTION_LOOP = "function"


def loop_scope_of_test(item: pytest.Item) -> str:
    """The loop scope pytest-asyncio would run ``item``'s body in."""
    marker = item.get_closest_marker("asyncio")
    if marker is not None:
        scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
        if scope:
            return str(scope)
    return _ini_scope(item.config, "asyncio_default_test_loop_scope") or FUNCTION_LOOP


def loop_scope_of_fixture(fixturedef: Any, config: pytest.Config) -> str:
    """The loop scope pytest-asyncio would set ``fixturedef`` up in: for a sync
    fixture its scope; never narrower than its scope (pytest-asyncio refuses
    that, with a scope mismatch)."""
    scope = str(fixturedef.scope)
    function = getattr(fixturedef.func, "__func__", fixturedef.func)
    if not (inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)):
        return scope
    loop_scope = getattr(function, "_loop_scope", None) or _ini_scope(
        config, "asyncio_default_fixture_loop_scope"
    )
    if not loop_scope or loop_scope == _MATCH_FIXTURE_SCOPE:
        return scope
    try:
        return max(Scope(scope), Scope(loop_scope)).value
    except ValueError:  # not a scope name: pytest-asyncio reports it
        return scope


_MATCH_FIXTURE_SCOPE = "fixture-scope"
"""The ini's value (set by pytest-asyncio when unset) for "the fixture's own scope"."""


def _ini_scope(config: pytest.Config, name: str) -> str | None:
    if not config.pluginmanager.has_plugin("asyncio"):
        return None
    try:
        return str(config.getini(name) or "") or None
    except ValueError:  # an older pytest-asyncio without that option
        return None


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


# --- Capture and logging, per test ----------------------------------------------
# pytest captures process-wide. ``CaptureManager`` (plugin "capturemanager")
# wraps each phase in its method ``item_capture(when, item)``: resume the global
# capture, run, suspend it, and add the "stdout"/"stderr" report sections.
# ``LoggingPlugin`` (plugin "logging-plugin") wraps each phase in its method
# ``_runtest_for(item, when)``: one shared caplog handler and one shared report
# handler on the root logger, reset per phase, with the caplog handler and records
# stored under ``caplog_handler_key``/``caplog_records_key`` in the item's stash.
# Both methods are looked up on the instance by pytest's own hook wrappers, so an
# instance attribute replaces them. ``_runtest_for`` is a context manager in
# pytest 9 and a plain generator (used with ``yield from``) in pytest 8.3.
# ``_pytest.capture.CaptureIO``/``TeeCaptureIO`` are the in-memory streams of
# ``--capture=sys``/``tee-sys``.
# ``CaptureManager.suspend_global_capture``/``resume_global_capture`` are called
# outside ``item_capture`` too, unconditionally: by ``--setup-show`` around each
# fixture line (``setuponly._show_fixture_action``), by ``--pdb``
# (``debugging``, also through ``capman.suspend()``/``resume()``) and by doctest.
# Resuming starts the process-wide capture (``sys.stdout`` swapped, fd 1
# redirected); even suspending puts ``sys.stdout`` back under ``--capture=sys``.
# Both are looked up on the instance, so an instance attribute replaces them.
# Checked: pytest 8.3.5 and 9.2.0 (same names otherwise).


def capture_method(config: pytest.Config) -> str:
    """``fd``, ``sys``, ``tee-sys`` or ``no`` (``-s``)."""
    return str(config.getoption("capture", "no"))


def capture_manager(config: pytest.Config) -> Any:
    return config.pluginmanager.get_plugin("capturemanager")


def logging_plugin(config: pytest.Config) -> Any:
    return config.pluginmanager.get_plugin("logging-plugin")


def memory_stream(tee_to: Any = None) -> Any:
    """A text stream kept in memory, as ``--capture=sys`` uses (``getvalue()``)."""
    return _capture.TeeCaptureIO(tee_to) if tee_to is not None else _capture.CaptureIO()


def log_capture_handler(formatter: Any, level: int | None) -> Any:
    handler = _logging.LogCaptureHandler()
    handler.setFormatter(formatter)
    if level is not None:
        handler.setLevel(level)
    return handler


def store_caplog(item: pytest.Item, when: str, handler: Any) -> None:
    """What ``caplog`` reads for ``item``: its handler, and its records per phase."""
    item.stash[_logging.caplog_records_key][when] = handler.records
    item.stash[_logging.caplog_handler_key] = handler


@contextlib.contextmanager
def method_replaced(instance: object, name: str, replacement: object) -> Iterator[None]:
    """Shadow ``instance.name`` with an instance attribute for the duration."""
    setattr(instance, name, replacement)
    try:
        yield
    finally:
        with contextlib.suppress(AttributeError):
            delattr(instance, name)


MakeLogPhase = Callable[
    [Callable[[pytest.Item, str], contextlib.AbstractContextManager[None]]],
    Callable[[pytest.Item, str], Iterator[None]],
]
"""Given pytest's ``_runtest_for`` as a context manager, make a replacement generator."""


def log_phase_replaced(plugin: Any, make: MakeLogPhase) -> contextlib.AbstractContextManager[None]:
    """Replace ``plugin._runtest_for`` in the shape this pytest's hook wrappers use."""
    original = plugin._runtest_for
    if inspect.isgeneratorfunction(type(plugin)._runtest_for):  # pytest 8.3
        return method_replaced(plugin, "_runtest_for", make(contextlib.contextmanager(original)))
    return method_replaced(plugin, "_runtest_for", contextlib.contextmanager(make(original)))


# --- --sw (stepwise) ------------------------------------------------------------
# The stepwise plugin ("stepwiseplugin") records the last failing test and stops
# the session. Tests we then cancel fail too, and each would overwrite it: the
# next ``--sw`` run would start from a cancelled test, not from the failure.
# pytest 8.3 keeps it in ``StepwisePlugin.lastfailed``, pytest 9.x in
# ``StepwisePlugin.cached_info.last_failed``. Checked: pytest 8.3.5, 9.2.0.


def stepwise_pin(config: pytest.Config) -> Callable[[], None] | None:
    """Remember stepwise's last failure now; the returned function puts it back."""
    plugin = config.pluginmanager.get_plugin("stepwiseplugin")
    if plugin is None:
        return None
    holder, name = (
        (plugin.cached_info, "last_failed")
        if hasattr(plugin, "cached_info")
        else (plugin, "lastfailed")
    )
    value = getattr(holder, name)
    return lambda: setattr(holder, name, value)


# --- which worker a report came from ----------------------------------------------
# xdist's worker adds ``worker_id`` ("gw0") to each serialized report, and the
# controller's unserialized report keeps it as an attribute. Checked: xdist 3.6.1,
# 3.8.0.


def report_worker(report: pytest.TestReport) -> str:
    """``gw0``... for a report from an xdist worker, ``main`` in one process."""
    return str(getattr(report, "worker_id", None) or "main")
