"""Fixtures under concurrency: scope instances, async fixture functions, and
higher-scoped first runs.

Scope instances: pytest keeps one cached value per FixtureDef, and a module
fixture of a ``conftest.py`` is one FixtureDef for every module. With tests of
two modules overlapping, each module still gets its own instance:
:class:`ScopeInstances` gives every test, for each of its FixtureDefs, the
object that holds its node's instance. Worked example, a ``conftest.py`` module
fixture ``db`` used by ``test_a.py`` and ``test_b.py``, with a function fixture
``row``::

    test_a.py::t1 starts     db -> copy for test_a.py (new), row -> a fresh copy
    test_b.py::t1 starts     db -> copy for test_b.py (new): set up beside a's
    test_a.py::t2 starts     db -> copy for test_a.py (cached: a's instance)
    test_a.py torn down      its copies are finished, then forgotten

Session fixtures use the FixtureDef itself (one session per process), and so
does a test that runs alone for its function fixtures.

Async fixtures: pytest only calls sync fixture functions. While a test runs on
the worker loop, an ``async def`` or async-generator fixture function is
presented to pytest as a sync shim that waits through :func:`await_only`, so
pytest's own caching, finalizers and yield-teardown apply unchanged. This works
with and without pytest-asyncio (whose ``pytest_fixture_setup`` wrapper then
sees a sync function and steps aside).

Higher-scoped fixtures: while test A is suspended in a module fixture's async
setup, test B must not start a second setup of it; B waits on the fixture's
:class:`LoopLock` and then finds the cached value.
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections.abc import Callable, Generator
from typing import Any

import pytest

from .. import _compat
from .bridge import LoopLock, await_only, in_bridge
from .item import on_other_backend


def _sync_shim(function: Callable[..., Any], name: str) -> Callable[..., Any] | None:
    """A sync stand-in for an async fixture function, or None if it is sync."""
    if inspect.iscoroutinefunction(function):

        def call_coroutine(**kwargs: Any) -> Any:
            __tracebackhide__ = True
            return await_only(function(**kwargs))

        return call_coroutine

    if inspect.isasyncgenfunction(function):

        def drive_async_generator(**kwargs: Any) -> Generator[Any, None, None]:
            __tracebackhide__ = True
            agen = function(**kwargs)
            try:
                value = await_only(agen.__anext__())
            except StopAsyncIteration:
                raise ValueError(f"{name} did not yield a value") from None
            yield value
            try:
                await_only(agen.__anext__())
            except StopAsyncIteration:
                return
            await_only(agen.aclose())
            raise ValueError(f"fixture function {name} has more than one 'yield'")

        return drive_async_generator
    return None


_ASYNC: weakref.WeakKeyDictionary[Callable[..., Any], bool] = weakref.WeakKeyDictionary()
"""Whether each fixture function seen so far is async: asked at every setup."""


def _is_async(function: Callable[..., Any]) -> bool:
    try:
        return _ASYNC[function]
    except (KeyError, TypeError):  # not seen yet, or not weakly referenceable
        known = inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)
        with contextlib.suppress(TypeError):
            _ASYNC[function] = known
        return known


def async_fixture_shim(fixturedef: Any, request: Any) -> Callable[..., Any] | None:
    """The sync stand-in for ``fixturedef``'s function while pytest sets it up, if
    it is async and the test runs on the worker loop; None otherwise (most calls:
    a plain function, not a context manager, as it runs at every fixture setup)."""
    if not in_bridge():
        if _is_async(fixturedef.func) and _on_the_loop():
            return _refusal(fixturedef.argname)
        return None
    if not _is_async(fixturedef.func):
        return None
    if _compat.ANYIO_BACKEND in request.fixturenames and on_other_backend(
        request.getfixturevalue(_compat.ANYIO_BACKEND)
    ):
        return None  # anyio's plugin sets it up on that backend (as it decides: anyio 4.16)
    function = _compat.resolve_fixture_function(fixturedef, request)
    return _sync_shim(function, fixturedef.argname)


def _on_the_loop() -> bool:
    """Whether the caller is a coroutine on the running loop (a test's sync code,
    in its greenlet, runs with no loop running)."""
    return _compat.running_loop_or_none() is not None


def _refusal(name: str) -> Callable[..., Any]:
    """What sets up an async fixture requested from a coroutine: a clear failure.

    ``request.getfixturevalue`` is synchronous; called in an async test's body
    (or an async fixture's), it would have to block the loop that the fixture
    needs. pytest-asyncio cannot do it either.
    """

    def refuse(**kwargs: Any) -> Any:
        __tracebackhide__ = True
        pytest.fail(
            f"pytest-asyncgroup: the async fixture {name!r} was requested with "
            "request.getfixturevalue() from async code (an async test or fixture), "
            "where it cannot be waited for without blocking the event loop. "
            "Request it as an argument instead, or call getfixturevalue() from a "
            "sync fixture.",
            pytrace=False,
        )

    return refuse


class ScopeInstances:
    """Which FixtureDef object holds each test's instance of each fixture, for one run.

    - a function fixture (and a class fixture outside a class, which pytest
      caches on the test): a fresh empty copy per overlapping test; the
      FixtureDef itself for a test that runs alone;
    - a session fixture: the FixtureDef itself;
    - a class, module or package fixture: one empty copy per node, made on the
      first test under that node to ask, kept while the node is live
      (:meth:`release` when it is torn down). pytest's own ``execute`` then
      caches, finishes and re-parametrizes that copy as it would the FixtureDef.
    """

    def __init__(self) -> None:
        self._copies: dict[Any, dict[Any, Any]] = {}  # node -> FixtureDef -> copy
        self._on_test_or_session: dict[int, bool] = {}
        """Per test function: whether its FixtureDefs all cache on the test or the
        session, so that a test of it that runs alone uses each as it is."""

    def use_for(self, item: pytest.Item, *, alone: bool) -> Callable[[], None]:
        """Give ``item`` its instances (see the class docstring); return the undo."""
        if not alone:
            return _compat.fixturedefs_chosen(item, self._overlapping)
        key = _compat.fixture_info_key(item)
        as_they_are = self._on_test_or_session.get(key)
        if as_they_are is None:
            as_they_are = self._on_test_or_session[key] = _compat.cached_on_test_or_session(item)
        # Even so, a fixture it asks for by name (``getfixturevalue``) may be a
        # module's: that look-up still gets the module's instance.
        return _compat.fixturedefs_chosen(item, self._alone, as_they_are=as_they_are)

    def _overlapping(self, item: pytest.Item, fixturedef: Any) -> Any:
        node = _compat.caching_node(item, fixturedef)
        if node is item:
            return _compat.empty_copy(fixturedef)
        return self._of_node(node, item, fixturedef)

    def _alone(self, item: pytest.Item, fixturedef: Any) -> Any:
        node = _compat.caching_node(item, fixturedef)
        if node is item:
            return fixturedef
        return self._of_node(node, item, fixturedef)

    def _of_node(self, node: Any, item: pytest.Item, fixturedef: Any) -> Any:
        if node is item.session:
            return fixturedef
        copies = self._copies.get(node)
        if copies is None:
            copies = self._copies[node] = {}
        instance = copies.get(fixturedef)
        if instance is None:
            instance = copies[fixturedef] = _compat.empty_copy(fixturedef)
        return instance

    def release(self, node: Any) -> None:
        """``node`` was torn down: its instances are finished; forget them."""
        self._copies.pop(node, None)

    def live(self) -> int:
        """How many per-node instances are kept now."""
        return sum(len(copies) for copies in self._copies.values())


class FixtureLocks:
    """One :class:`LoopLock` per higher-scoped FixtureDef (per node instance), for one run."""

    def __init__(self) -> None:
        # FixtureDefs hash by identity; a node's copies go with the node.
        self._locks: weakref.WeakKeyDictionary[Any, LoopLock] = weakref.WeakKeyDictionary()

    def execute(self, original: Callable[[Any, Any], Any], fixturedef: Any, request: Any) -> Any:
        """Stands in for ``FixtureDef.execute`` during the run."""
        __tracebackhide__ = True
        if _compat.is_function_scoped(fixturedef) or not in_bridge():
            return original(fixturedef, request)
        lock = self._locks.get(fixturedef)
        if lock is None:
            lock = self._locks[fixturedef] = LoopLock()
        lock.acquire()
        try:
            return original(fixturedef, request)
        finally:
            lock.release()
