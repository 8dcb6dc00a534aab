"""Tasks a test starts: run under its warnings, cancelled after its teardown.

pytest-asyncio runs a test on a loop of its loop scope ("function" by default)
and closes that loop when the scope ends, cancelling whatever tasks are still
on it: a poller the test never stopped, a server task its fixture never
cancelled. The worker loop outlives its tests, so such a task would run on
beside later tests, still using a resource after the test has released its key.

So each test gets a :class:`SpawnedTasks`: a task factory on the worker loop
adds every task created while :data:`_SPAWNED` names it (a ContextVar, set in
the test's context, which the tasks it creates inherit). Once the test's own
fixtures are torn down, :meth:`SpawnedTasks.cancel_left` cancels those still
pending and waits for them, as closing pytest-asyncio's loop does.

The steps of a test's tasks run under the test's warnings state, when it
overlaps others (``warnings.py``): each task's coroutine is wrapped in an
object that enters it around each step and reads as the coroutine otherwise
(``task.get_coro()`` returns the wrapper).

Code that pytest-asyncio runs on a wider loop (a module or session fixture, a
test or fixture with ``loop_scope="session"``) runs with :data:`_SPAWNED`
unset: its tasks live until the run ends, as they would live with that loop.

What escapes a task: asyncio lets ``SystemExit`` and ``KeyboardInterrupt`` out
of a task's step and through the loop, which here runs every test of the
worker. A task created in a test's context (:data:`_TEST`, whatever its loop
scope) has its coroutine wrapped too; such an exception raised in one of its
steps goes to the test (:meth:`SpawnedTasks.escaped`), which fails with it in
the phase it is in, and the task ends cancelled. A real Ctrl-C is not raised in
a task's step (``interrupt.py``), except a second one, which goes through.
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import contextvars
import weakref
from collections.abc import Callable, Coroutine, Generator, Iterator
from typing import Any

from .. import _compat
from .bridge import await_only
from .isolation import current_gate, must_wait
from .per_test import called_with
from .warnings import TaskWarnings, WarningsState

_SPAWNED: contextvars.ContextVar[SpawnedTasks | None] = contextvars.ContextVar(
    "pytest_asyncgroup_spawned", default=None
)
_TEST: contextvars.ContextVar[SpawnedTasks | None] = contextvars.ContextVar(
    "pytest_asyncgroup_spawned_test", default=None
)

TaskFactory = Callable[..., "asyncio.Future[Any]"]
FixtureExecute = Callable[[Any, Any, Any], Any]


ESCAPES = (SystemExit, KeyboardInterrupt)
"""What asyncio lets out of a task's step, through the loop."""

OnEscape = Callable[[BaseException], bool]
"""Told what escaped one of a test's tasks; False: let it through (a real Ctrl-C)."""


class TaskInterrupted(Exception):
    """A ``KeyboardInterrupt`` raised by code in a task a test started (not Ctrl-C):
    it fails that test, where a ``KeyboardInterrupt`` would stop the whole run."""


class SpawnedTasks:
    """The tasks one test created on its function-scoped loop."""

    __slots__ = ("_on_escape", "_tasks", "warnings")

    def __init__(self, warnings: WarningsState | None, on_escape: OnEscape | None = None) -> None:
        # Weak, as asyncio's own registry: a finished task nobody holds is
        # collected (and logs "exception was never retrieved") when it would be.
        # Made with the first task (most sync tests start none).
        self._tasks: weakref.WeakSet[asyncio.Future[Any]] | None = None
        self.warnings = warnings
        """The test's warnings state, if it overlaps others (None: pytest's own)."""
        self._on_escape = on_escape

    def escaped(self, error: BaseException) -> BaseException:
        """``error`` (``SystemExit``, ``KeyboardInterrupt``) came out of a step of one
        of this test's tasks: what the step raises instead.

        The test is told (it fails with ``error``, or with a :class:`TaskInterrupted`
        caused by a ``KeyboardInterrupt``) and the task ends cancelled; unless the
        worker loop lets ``error`` through, as it does a real Ctrl-C.
        """
        if isinstance(error, KeyboardInterrupt):
            failure: BaseException = TaskInterrupted(
                "KeyboardInterrupt raised in a task this test started: it fails this test"
                " (where plain pytest-asyncio would stop the run)"
            )
            failure.__cause__ = error
            failure.__traceback__ = error.__traceback__
        else:
            failure = error
        if self._on_escape is None or not self._on_escape(failure):
            return error
        return asyncio.CancelledError(f"{type(error).__name__} escaped the task")

    def add(self, task: asyncio.Future[Any]) -> None:
        if self._tasks is None:
            self._tasks = weakref.WeakSet()
        self._tasks.add(task)

    def cancel_left(self) -> None:
        """Cancel the tasks still pending and wait for them (in the test's greenlet).

        As ``asyncio.Runner.close()``: a task that ends with an exception other
        than the cancellation goes to the loop's exception handler (logged,
        in the test's teardown section); the test does not fail for it.
        """
        if self._tasks is None:
            return
        left = [task for task in self._tasks if not task.done()]
        self._tasks = None
        if not left:
            return
        for task in left:
            task.cancel()
        await_only(asyncio.wait(left))
        for task in left:
            if task.cancelled():
                continue
            error = task.exception()
            if error is not None:
                task.get_loop().call_exception_handler(
                    {
                        "message": "unhandled exception in a task the test left running,"
                        " cancelled at the end of its teardown",
                        "exception": error,
                        "task": task,
                    }
                )


def track(
    item: Any, warnings: WarningsState | None, on_escape: OnEscape | None = None
) -> SpawnedTasks:
    """Start recording the tasks ``item`` creates (in the caller's context);
    ``warnings``: the test's own warnings state, for their steps; ``on_escape``:
    told what escapes their steps (see :meth:`SpawnedTasks.escaped`)."""
    tasks = SpawnedTasks(warnings, on_escape)
    _TEST.set(tasks)
    _SPAWNED.set(tasks if _compat.loop_scope_of_test(item) == _compat.FUNCTION_LOOP else None)
    return tasks


def around_fixtures(execute: FixtureExecute) -> FixtureExecute:
    """Wrap ``FixtureDef.execute`` (as :class:`FixtureLocks` does): while a fixture
    is set up, its tasks are recorded with the test's only if pytest-asyncio
    would run it on the test's function-scoped loop."""

    on_function_loop: dict[tuple[Any, str], bool] = {}
    """Per fixture function and scope (for this run: one config)."""

    def execute_recording(original: Any, fixturedef: Any, request: Any) -> Any:
        __tracebackhide__ = True
        key: tuple[Any, str] | None = (fixturedef.func, fixturedef.scope)
        try:
            function_loop = on_function_loop.get(key)  # type: ignore[arg-type]
        except TypeError:  # an unhashable callable: ask each time
            key, function_loop = None, None
        if function_loop is None:
            function_loop = (
                _compat.loop_scope_of_fixture(fixturedef, request.config) == _compat.FUNCTION_LOOP
            )
            if key is not None:
                on_function_loop[key] = function_loop
        tasks = _TEST.get() if function_loop else None
        return called_with(_SPAWNED, tasks, execute, original, fixturedef, request)

    return execute_recording


def task_factory(previous: TaskFactory | None) -> TaskFactory:
    """A task factory that records each task with the test creating it, made
    over the loop's ``previous`` one (None: asyncio's own)."""

    def create(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Future[Any]:
        tasks = _SPAWNED.get()
        test = _TEST.get()
        if test is not None and asyncio.iscoroutine(coro):
            warnings = tasks.warnings if tasks is not None else None
            coro = _Stepped(coro, test, TaskWarnings(warnings) if warnings is not None else None)
        if previous is not None:
            task = previous(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        if tasks is not None:
            tasks.add(task)
        return task

    return create


class _Stepped(collections.abc.Coroutine):  # type: ignore[type-arg]
    """``inner`` for a task of ``test``'s, with ``scope`` (its warnings, if it
    overlaps others) entered around each step, and what escapes a step (see the
    module docstring) handed to the test.

    The task drives it as it drives ``inner`` (``send``, ``throw``, ``close``);
    every other attribute is ``inner``'s (``cr_frame``, ``cr_code``, the name),
    so the task's repr, ``get_stack()`` and coroutine-state checks read
    ``inner``. Cancelled before its first step, ``inner`` gets the throw and
    ends as it would in a task of its own (not "never awaited"). While another
    test holds the worker's tests still (``isolation.py``), its steps wait.
    """

    __slots__ = ("_held", "_inner", "_scope", "_test")

    def __init__(
        self, inner: Coroutine[Any, Any, Any], test: SpawnedTasks, scope: TaskWarnings | None
    ) -> None:
        self._inner = inner
        self._test = test
        self._scope = scope
        self._held: tuple[Any, ...] | None = None
        """What was thrown in while another test held the worker's tests still."""

    def send(self, value: Any) -> Any:
        if must_wait():
            return self._wait()
        held, self._held = self._held, None
        if held is not None:  # a cancellation that came while held
            return self._step(self._inner.throw, *held)
        return self._step(self._inner.send, value)

    def throw(self, *args: Any) -> Any:
        if must_wait():
            if self._held is None:
                self._held = args
            return self._wait()
        self._held = None
        return self._step(self._inner.throw, *args)

    def _wait(self) -> asyncio.Future[None]:
        """Hold this step until the gate opens (``isolation.py``): the task waits on
        a future of its own, then sends into (or throws into) this again."""
        gate = current_gate()
        assert gate is not None
        return gate.waiter(asyncio.get_running_loop())

    def _step(self, method: Callable[..., Any], *args: Any) -> Any:
        scope = self._scope
        if scope is not None:
            scope.enter()
        try:
            return method(*args)
        except ESCAPES as error:
            raise self._test.escaped(error) from None
        finally:
            if scope is not None:
                scope.exit()

    def close(self) -> None:
        scope = self._scope
        if scope is not None:
            scope.enter()
        try:
            self._inner.close()
        finally:
            if scope is not None:
                scope.exit()

    def __await__(self) -> Generator[Any, None, Any]:
        return self._inner.__await__()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@contextlib.contextmanager
def recording(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Install :func:`task_factory` on ``loop`` for the run."""
    previous = loop.get_task_factory()
    loop.set_task_factory(task_factory(previous))
    try:
        yield
    finally:
        loop.set_task_factory(previous)
