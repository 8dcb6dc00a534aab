"""Fixtures under concurrency: async fixture functions, and higher-scoped first runs.

Async fixtures: pytest only calls sync fixture functions. While a test runs on
the worker loop, an ``async def`` or async-generator fixture function is
presented to pytest as a sync shim that waits through :func:`await_only`, so
pytest's own caching, finalizers and yield-teardown apply unchanged. This works
with and without pytest-asyncio (whose ``pytest_fixture_setup`` wrapper then
sees a sync function and steps aside).

Higher-scoped fixtures: while test A is suspended in a module fixture's async
setup, test B must not start a second setup of it; B waits on the fixture's
:class:`FirstRunLock` and then finds the cached value.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import weakref
from collections.abc import Callable, Generator
from typing import Any

import pytest

from .. import _compat
from ._bridge import await_only, in_bridge, worker_loop
from ._item import on_other_backend


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
    return asyncio.events._get_running_loop() is not None


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


class FirstRunLock:
    """A lock taken without a switch when free; waiters wait on the loop."""

    def __init__(self) -> None:
        self._held = False
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def acquire(self) -> None:
        __tracebackhide__ = True
        while self._held:
            waiter: asyncio.Future[None] = worker_loop().create_future()
            self._waiters.append(waiter)
            try:
                await_only(waiter)
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
        self._held = True

    def release(self) -> None:
        self._held = False
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break


class FixtureLocks:
    """One :class:`FirstRunLock` per higher-scoped FixtureDef, for one run."""

    def __init__(self) -> None:
        self._locks: dict[Any, FirstRunLock] = {}  # FixtureDefs hash by identity

    def execute(self, original: Callable[[Any, Any], Any], fixturedef: Any, request: Any) -> Any:
        """Stands in for ``FixtureDef.execute`` during the run."""
        __tracebackhide__ = True
        if _compat.is_function_scoped(fixturedef) or not in_bridge():
            return original(fixturedef, request)
        lock = self._locks.get(fixturedef)
        if lock is None:
            lock = self._locks[fixturedef] = FirstRunLock()
        lock.acquire()
        try:
            return original(fixturedef, request)
        finally:
            lock.release()
