"""pytest-asyncio's internals: its items, its loop factories and policy, its loop scopes."""

from __future__ import annotations

import asyncio
import collections.abc
import functools
import inspect
import os
import types
from collections.abc import Callable
from typing import Any

import pytest
from _pytest.scope import Scope

from .pytest import nothing_to_undo

# --- pytest-asyncio's loop factories ----------------------------------------------
# pytest-asyncio 1.4+ makes a test's loops with the factories a
# ``pytest_asyncio_loop_factories(config, item)`` hook returns (firstresult, a
# mapping of names to callables), narrowed by ``@pytest.mark.asyncio(
# loop_factories=[names])``: ``pytest_generate_tests`` parametrizes each of its
# async tests indirectly over the ``_asyncio_loop_factory`` fixture, one
# parameter per factory (the id hidden when there is one, on pytest 8.4+); a
# name the hook does not offer becomes a ``None`` parameter marked skip. So a
# collected test's ``callspec.params`` say which factory its loop comes from.
# A test the hook does not apply to (no implementation in its conftests) has no
# such parameter: its loop comes from the ``event_loop_policy`` fixture.
# Checked: pytest-asyncio 1.5.0 (``_collect_hook_loop_factories``,
# ``pytest_generate_tests``, ``_asyncio_loop_factory``), pytest 8.3.5 and 9.2.0.

LoopFactory = Callable[[], asyncio.AbstractEventLoop]
_FACTORY_PARAM = "_asyncio_loop_factory"
DEFAULT_LOOP = "default"
"""What :func:`loop_factory_asked` says of a test run on pytest-asyncio's default loop."""


def loop_factories_hooked(config: pytest.Config) -> bool:
    """Whether any plugin or conftest implements pytest-asyncio's (1.4+)
    ``pytest_asyncio_loop_factories`` hook; without one, no test asks."""
    anywhere = getattr(config.hook, "pytest_asyncio_loop_factories", None)
    return anywhere is not None and bool(anywhere.get_hookimpls())


def loop_factory_asked(item: pytest.Item) -> LoopFactory | str | None:
    """The loop factory pytest-asyncio would make ``item``'s loop with: a callable
    from the hook; :data:`DEFAULT_LOOP` for its default loop (a pytest-asyncio
    test the hook does not apply to); None when it runs on no loop of
    pytest-asyncio's (not one of its tests, or skipped: a factory not offered)."""
    if not _is_pytest_asyncio_item(type(item)):
        return None
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    if _FACTORY_PARAM not in params:
        return DEFAULT_LOOP
    factory = params[_FACTORY_PARAM]
    return factory if callable(factory) else None


def loop_factory_names(item: pytest.Item) -> dict[str, LoopFactory]:
    """The factories the hook offers ``item``, by name, as pytest-asyncio narrows
    them by the ``asyncio`` mark's ``loop_factories`` (for messages; {} if none)."""
    hook = getattr(item.ihook, "pytest_asyncio_loop_factories", None)
    if hook is None or not hook.get_hookimpls():
        return {}
    offered = hook(config=item.config, item=item)
    if not isinstance(offered, collections.abc.Mapping):
        return {}
    marker = item.get_closest_marker("asyncio")
    chosen = marker.kwargs.get("loop_factories") if marker is not None else None
    if chosen is None:
        return dict(offered)
    return {name: offered[name] for name in chosen if name in offered}


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


# --- pytest-asyncio items --------------------------------------------------------
# pytest-asyncio 1.x replaces async test items with ``PytestAsyncioFunction``
# subclasses whose ``setup`` requests a ``_<scope>_scoped_runner`` fixture (a new
# event loop) and whose ``runtest`` calls ``Runner.run`` - which raises inside a
# running loop. For our run the item uses plain ``pytest.Function``'s methods; our
# ``pytest_pyfunc_call`` then awaits the test body on the worker's loop.
# Checked: pytest-asyncio 1.5.0 (class name and the two methods).


@functools.cache
def _is_pytest_asyncio_item(item_type: type) -> bool:
    return any(
        cls.__name__ == "PytestAsyncioFunction" and cls.__module__.startswith("pytest_asyncio")
        for cls in item_type.__mro__
    )


def plain_function_methods(item: pytest.Item) -> Callable[[], None]:
    """Route a pytest-asyncio item through plain ``Function`` setup/runtest; return undo."""
    if not _is_pytest_asyncio_item(type(item)):
        return nothing_to_undo
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
