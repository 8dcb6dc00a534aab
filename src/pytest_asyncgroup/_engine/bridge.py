"""The sync <-> async bridge: run pytest's synchronous protocol as an asyncio task.

pytest runs a test through synchronous code (hooks, fixtures, ``item.runtest()``).
To let many tests wait at once on one event loop, each test's protocol runs in
its own greenlet, driven by an asyncio task (:func:`run_in_greenlet`). Where the
sync code needs an async result (an async fixture, an async test body, a lock),
it calls :func:`await_only`: the greenlet switches to the driving task, which
awaits on the loop and switches back with the result or throws the exception in.

::

    task (on the loop)                      greenlet (pytest's sync code)
    ------------------                      ------------------------------
    run_in_greenlet(protocol) --switch-->   protocol() ... fixture setup
                              <--awaitable- await_only(fixture_coro)
    value = await awaitable
                              --value---->  ... test body, teardown
    return                    <--result---  protocol returns

The greenlet runs in the task's own ``contextvars.Context`` (greenlet lets us
read the current one and hand it over), so ContextVars set by sync fixture code
are seen by the coroutines it awaits, and by no other test.

While the greenlet's synchronous code runs, no event loop is running, as in a
plain pytest run: a sync test or fixture may call ``asyncio.run``, run a loop of
its own, or use ``unittest.IsolatedAsyncioTestCase`` or asgiref's
``async_to_sync``. (It holds the worker's loop while it runs anyway.) The loop
is running again for every awaitable handed over. :func:`worker_loop` gives
the bridge's own code the loop from inside the greenlet.

The worker's loop is also the thread's current loop (``asyncio.run`` sets it),
so ``asyncio.get_event_loop()`` in sync test code returns it, as pytest-asyncio
returns the test's own loop. Its ``run_until_complete``, called from a test's
greenlet, waits through :func:`await_only` (:func:`run_until_complete_bridged`)
instead of failing because the loop is running; so the older style of sync
fixture, ``asyncio.get_event_loop().run_until_complete(setup())``, works, and
what it makes belongs to the loop the async tests run on.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Protocol, TypeVar

from greenlet import GreenletExit, getcurrent, greenlet

from .._compat import set_running_loop
from .isolation import held_back, must_wait, passage

T = TypeVar("T")


class _TestGreenlet(greenlet):  # type: ignore[misc]
    """A greenlet whose parent is a task of :func:`run_in_greenlet`.

    It runs one function after another: between two, it is parked in
    :data:`_PARKED` (a greenlet that ends frees its Python data stack, and the
    next allocates one: ~9 us a test against under 1 us to wake a parked one).
    """

    loop: asyncio.AbstractEventLoop


class _Finished:
    """What a :class:`_TestGreenlet` hands its task when the function has returned or raised."""

    __slots__ = ("error", "value")

    def __init__(self, value: Any, error: BaseException | None) -> None:
        self.value = value
        self.error = error


def _carry(function: Callable[[], Any]) -> None:
    """A :class:`_TestGreenlet`'s life: run a function, hand over how it ended, park."""
    while True:
        try:
            finished = _Finished(function(), None)
        except GreenletExit:  # discarded while running (its task was destroyed): end
            raise
        except BaseException as exc:  # handed to the task, which raises it
            finished = _Finished(None, exc)
        del function  # nothing of the last test is kept while parked
        # Parked here until the next function (or GreenletExit when discarded).
        function = getcurrent().parent.switch(finished)


class _Parked(threading.local):
    """Parked greenlets, per thread (a greenlet runs only in its own thread)."""

    def __init__(self) -> None:
        self.greenlets: list[_TestGreenlet] = []


_PARKED = _Parked()
_PARKED_MAX = 256


def worker_loop() -> asyncio.AbstractEventLoop:
    """The worker's loop, from a test's synchronous code (where none is running)."""
    current = getcurrent()
    if isinstance(current, _TestGreenlet):
        return current.loop
    return asyncio.get_running_loop()


class NotInAsyncGroupTask(RuntimeError):
    """:func:`await_only` was called outside a test run by the worker loop."""


def in_bridge() -> bool:
    """Whether the caller runs inside a test's greenlet (so it may ``await_only``)."""
    return isinstance(getcurrent(), _TestGreenlet)


def await_only(awaitable: Awaitable[T]) -> T:
    """Wait for ``awaitable`` on the worker's loop from synchronous test code."""
    __tracebackhide__ = True
    current = getcurrent()
    if not isinstance(current, _TestGreenlet):
        close = getattr(awaitable, "close", None)
        if close is not None:
            close()
        raise NotInAsyncGroupTask(
            "pytest-asyncgroup: async code was reached outside a test run by the "
            "asyncgroup worker loop (for example during pytest_sessionfinish)"
        )
    result: T = current.parent.switch(awaitable)
    return result


class LoopLock:
    """A lock for tests' sync code (in their greenlets): taken without a switch
    when free; waiters wait on the worker's loop."""

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


def run_until_complete_bridged(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Shadow ``loop.run_until_complete`` (see the module docstring); returns the undo."""
    original = loop.run_until_complete

    def run_until_complete(future: Awaitable[T]) -> T:
        __tracebackhide__ = True
        current = getcurrent()
        if isinstance(current, _TestGreenlet) and current.loop is loop:
            return await_only(future)
        return original(future)

    return _shadowed(loop, "run_until_complete", run_until_complete)


def stop_refused(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Shadow ``loop.stop`` while the worker's tests run on ``loop``; returns the undo.

    Stopping the worker's loop would end the run of every test on it (in one
    process, an internal error). Under pytest-asyncio a test that stops its
    loop fails ("Event loop stopped before Future completed"); here the call
    fails, in that test. asyncio's own stop, when the run's main task is done,
    comes after the undo.
    """

    def stop() -> None:
        __tracebackhide__ = True
        raise RuntimeError(
            "pytest-asyncgroup: loop.stop() was called on the worker's event loop, "
            "which runs this test together with others; a test may not stop it"
        )

    return _shadowed(loop, "stop", stop)


def _shadowed(
    loop: asyncio.AbstractEventLoop, name: str, replacement: Callable[..., Any]
) -> Callable[[], None]:
    """Put ``replacement`` on the ``loop`` instance in place of its method ``name``;
    return the undo (which leaves alone a replacement made since by someone else)."""
    setattr(loop, name, replacement)

    def undo() -> None:
        if loop.__dict__.get(name) is replacement:
            delattr(loop, name)

    return undo


def current_loop_restored(loop: asyncio.AbstractEventLoop) -> None:
    """Make ``loop`` the thread's current loop again if a test set another.

    A fixture of the older style sets a loop of its own as the current one
    (``asyncio.set_event_loop``) and closes it; sync code of the tests after
    it still gets the worker's loop from ``asyncio.get_event_loop()``.
    """
    policy = asyncio.get_event_loop_policy()
    try:
        current = policy.get_event_loop()
    except RuntimeError:  # set to None
        current = None
    if current is not loop:
        policy.set_event_loop(loop)


def _no_interruption() -> BaseException | None:
    return None


class StepScope(Protocol):
    """Process-wide state swapped in for each step of one test's code."""

    def enter(self) -> None: ...

    def exit(self) -> None: ...


class _NoScope:
    def enter(self) -> None:
        pass

    def exit(self) -> None:
        pass


async def run_in_greenlet(
    function: Callable[[], T],
    interruption: Callable[[], BaseException | None] = _no_interruption,
    scope: StepScope | None = None,
) -> T:
    """Run ``function`` to completion, awaiting on its behalf whatever it hands over.

    Cancelling the driving task throws ``CancelledError`` into the test's code at
    its ``await_only``; if ``interruption()`` then names an exception (a stop, a
    timeout), that exception is thrown in instead and the task is un-cancelled,
    so the test's teardown may still await.

    With a ``scope``, every step of the test's code (in the greenlet, or in an
    awaitable it waits on) runs between ``scope.enter()`` and ``scope.exit()``.
    While another test holds the worker's tests still (``isolation.py``), no step
    runs; a cancellation meanwhile is thrown in when they go on.
    """
    __tracebackhide__ = True
    step = scope or _NoScope()
    loop = asyncio.get_running_loop()
    parked = _PARKED.greenlets
    current = getcurrent()
    if parked:
        child = parked.pop()
        child.parent = current  # it hands back to this task's greenlet
    else:
        child = _TestGreenlet(_carry)
    child.loop = loop
    child.gr_context = current.gr_context

    def sync_step(resume: Callable[..., Any], *args: Any) -> Any:
        __tracebackhide__ = True
        step.enter()
        set_running_loop(None)
        try:
            return resume(*args)
        finally:
            set_running_loop(loop)
            step.exit()

    if must_wait():  # another test holds the worker's tests still (``isolation.py``)
        await held_back()
    value: Any = sync_step(child.switch, function)
    while not isinstance(value, _Finished):
        try:
            result = await (value if scope is None else _Scoped(value, scope))
            if must_wait():
                pending = await held_back()
                if pending is not None:
                    raise pending
        except BaseException as exc:  # every outcome goes back to the test's code
            thrown = exc
            if isinstance(exc, asyncio.CancelledError):
                replacement = interruption()
                if replacement is not None:
                    _uncancel()
                    thrown = replacement
            if must_wait():
                await held_back()
            value = sync_step(child.throw, type(thrown), thrown, thrown.__traceback__)
            # Not kept: its traceback holds this frame, and this frame the test's
            # whole state, which would then wait for the collector to go.
            del thrown
        else:
            value = sync_step(child.switch, result)
    child.gr_context = None  # keep no test's context alive while parked
    if len(parked) < _PARKED_MAX:
        parked.append(child)
    if value.error is not None:
        error, value.error = value.error, None
        raise error
    return value.value  # type: ignore[no-any-return]


class _Scoped:
    """Awaits ``awaitable`` with ``scope`` entered for each of its steps."""

    __slots__ = ("_awaitable", "_scope")

    def __init__(self, awaitable: Awaitable[Any], scope: StepScope) -> None:
        self._awaitable = awaitable
        self._scope = scope

    def __await__(self) -> Generator[Any, Any, Any]:
        __tracebackhide__ = True
        scope = self._scope
        steps = self._awaitable.__await__()
        sent: Any = None
        error: BaseException | None = None
        while True:
            if must_wait():  # another test holds the worker's tests still
                pending = yield from passage()
                if pending is not None and error is None:
                    sent, error = None, pending
            scope.enter()
            try:
                yielded = steps.send(sent) if error is None else steps.throw(error)
            except StopIteration as stop:
                return stop.value
            finally:
                scope.exit()
            try:
                sent, error = (yield yielded), None
            except GeneratorExit:
                steps.close()
                raise
            except BaseException as exc:  # delivered to the awaitable at its next step
                sent, error = None, exc


def _uncancel() -> None:
    task = asyncio.current_task()
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+
    if uncancel is not None:
        uncancel()
