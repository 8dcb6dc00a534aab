"""pytest's internals: the setup state, FixtureDefs, the runner, capture and logging, stepwise."""

from __future__ import annotations

import contextlib
import copy
import inspect
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest
from _pytest import capture as _capture
from _pytest import fixtures as _fixtures
from _pytest import logging as _logging
from _pytest import runner as _runner
from _pytest.scope import Scope


def nothing_to_undo() -> None:
    pass


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


# --- per-test and per-node FixtureDefs ---------------------------------------------
# A FixtureDef caches one value (``cached_result``) and one ``_finalizers`` list for
# every test, and every node: a module fixture of a ``conftest.py`` is one
# FixtureDef for all its modules, cached under the parameter index only. pytest
# relies on its one-stack SetupState to finish one module's instance before the
# next module asks. Overlapping tests instead get, per FixtureDef, the copy that
# belongs to the node pytest caches its value on (``caching_node``), installed
# in ``item._fixtureinfo`` (a frozen dataclass: ``name2fixturedefs``; what
# ``_initrequest()`` makes a request from, as ``runtestprotocol`` does for a
# re-run) and in the test's request as ``_arg2fixturedefs``: where
# ``getfixturevalue`` looks a name up, and what each ``SubRequest`` is made with
# (pytest 8.3: the TopRequest copies ``name2fixturedefs`` into it; 9.x uses it
# as is). ``runtestprotocol`` drops ``item._request`` after the teardown.
# pytest 8.3 caches a dynamic ``getfixturevalue`` look-up in that dict; 9.x does
# not look in it for a name it lacks. The dict below answers a look-up miss with
# the chosen instances itself, and copies as its own type.
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


def fixturedefs_chosen(
    item: pytest.Item, choose: FixtureDefChoice, *, as_they_are: bool = False
) -> Callable[[], None]:
    """Have ``item`` use, for each of its FixtureDefs, the one ``choose`` picks
    (now and for dynamic ``getfixturevalue``); return the undo. ``as_they_are``:
    the caller knows ``choose`` picks each of the test's own FixtureDefs itself,
    so only a dynamic look-up asks it."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None or not hasattr(item, "_initrequest"):
        return nothing_to_undo
    if as_they_are:
        data = info.name2fixturedefs
    else:
        data = {
            name: tuple(choose(item, fixturedef) for fixturedef in fixturedefs)
            for name, fixturedefs in info.name2fixturedefs.items()
        }
    chosen = _ChosenFixtureDefs(item, choose, data)
    # In the item's info, so that a request made afresh (a re-run by
    # pytest-rerunfailures: ``runtestprotocol`` calls ``_initrequest()``) has it too.
    item._fixtureinfo = type(info)(  # type: ignore[attr-defined]
        argnames=info.argnames,
        initialnames=info.initialnames,
        names_closure=info.names_closure,
        name2fixturedefs=chosen,
    )
    request = item._request  # type: ignore[attr-defined]
    if request and not request._fixture_defs:  # made at collection, not used yet
        request._arg2fixturedefs = chosen
    else:
        item._initrequest()

    def undo() -> None:
        item._fixtureinfo = info  # type: ignore[attr-defined]

    return undo


_TEST_OR_SESSION = frozenset((Scope.Function, Scope.Session))


def cached_on_test_or_session(item: pytest.Item) -> bool:
    """Whether each of ``item``'s FixtureDefs caches its value on the test or on the
    session (the scope its parametrization gives a parametrized name, as
    :func:`caching_node` takes it): none on a class, module or package. The same
    for every test of one function: pass :func:`fixture_info_key` to remember it."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return True
    callspec = getattr(item, "callspec", None)
    if callspec is not None and not _TEST_OR_SESSION.issuperset(
        getattr(callspec, "_arg2scope", {}).values()
    ):
        return False
    return all(
        fixturedef._scope in _TEST_OR_SESSION
        for fixturedefs in info.name2fixturedefs.values()
        for fixturedef in fixturedefs
    )


def fixture_info_key(item: pytest.Item) -> int:
    """What the tests of one function share (their ``FuncFixtureInfo``, and the
    parametrize calls that made them), as a key for one run."""
    return id(getattr(item, "_fixtureinfo", None))


def test_argnames(item: pytest.Item) -> tuple[str, ...]:
    """The fixture names the test function takes as arguments (pytest 8.3, 9.2)."""
    return tuple(item._fixtureinfo.argnames)  # type: ignore[attr-defined]


def fixture_names(item: pytest.Item) -> Sequence[str]:
    """Every fixture the test requests statically (closure, autouse included); not a copy."""
    names: Sequence[str] = getattr(item, "fixturenames", ())
    return names


def fixture_requests(item: pytest.Item) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """What the test requests first (``FuncFixtureInfo.initialnames``: usefixtures,
    autouse, then its arguments), and what each fixture requests in turn (the
    last definition's ``argnames``, the one the test gets) (pytest 8.3, 9.2)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return (), {}
    requests = {
        name: tuple(definitions[-1].argnames)
        for name, definitions in info.name2fixturedefs.items()
        if definitions
    }
    return tuple(info.initialnames), requests


def fixture_label(item: pytest.Item, name: str) -> str:
    """How fixture ``name`` came into the test, if not as an argument, and where it
    is defined: ``autouse, conftest.py:3`` (pytest 8.3, 9.2)."""
    info = item._fixtureinfo  # type: ignore[attr-defined]
    definitions = info.name2fixturedefs.get(name)
    code = getattr(definitions[-1].func, "__code__", None) if definitions else None
    where = f"{os.path.basename(code.co_filename)}:{code.co_firstlineno}" if code else ""
    how = ""
    if name in info.initialnames and name not in info.argnames:
        used = {n for mark in item.iter_markers("usefixtures") for n in mark.args}
        how = "usefixtures" if name in used else "autouse"
    return ", ".join(part for part in (how, where) if part)


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


# ``FixtureDef.finish(request)`` runs a fixture's finalizers (its teardown); it is
# what the finalizer ``execute`` registers on the requesting node calls, looked up
# on the class at that time (pytest 8.3, 9.2). Wrapped for the run, as ``execute``.


@contextlib.contextmanager
def fixture_finish_wrapped(
    wrap: Callable[[Callable[[Any, Any], Any], Any, Any], Any],
) -> Iterator[None]:
    original = _fixtures.FixtureDef.finish

    def finish(self: Any, request: Any) -> Any:
        __tracebackhide__ = True
        return wrap(original, self, request)

    _fixtures.FixtureDef.finish = finish  # type: ignore[method-assign]
    try:
        yield
    finally:
        _fixtures.FixtureDef.finish = original  # type: ignore[method-assign]


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


# --- where pytest makes each test's tmp_path -----------------------------------------
# ``_pytest/tmpdir.py``: ``--basetemp``, or ``pytest-of-<user>`` under
# ``PYTEST_DEBUG_TEMPROOT`` or the system's temporary directory (``get_user``).
# Checked: pytest 8.3.5, 9.2.0.
def temp_roots(config: pytest.Config) -> tuple[str, ...]:
    """The directories under which pytest makes tests' ``tmp_path``."""
    import tempfile

    from _pytest.tmpdir import get_user

    roots = []
    basetemp = getattr(config.option, "basetemp", None)
    if basetemp:
        roots.append(str(basetemp))
    temproot = os.environ.get("PYTEST_DEBUG_TEMPROOT") or tempfile.gettempdir()
    roots.append(os.path.join(os.path.realpath(temproot), f"pytest-of-{get_user() or 'unknown'}"))
    return tuple(roots)
