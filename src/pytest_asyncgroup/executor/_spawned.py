"""Tasks a test leaves running: cancelled at the end of its own teardown.

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

Code that pytest-asyncio runs on a wider loop (a module or session fixture, a
test or fixture with ``loop_scope="session"``) runs with :data:`_SPAWNED`
unset: its tasks live until the run ends, as they would live with that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import weakref
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from .. import _compat
from ._bridge import await_only

_SPAWNED: contextvars.ContextVar[SpawnedTasks | None] = contextvars.ContextVar(
    "pytest_asyncgroup_spawned", default=None
)
_TEST: contextvars.ContextVar[SpawnedTasks | None] = contextvars.ContextVar(
    "pytest_asyncgroup_spawned_test", default=None
)

TaskFactory = Callable[..., "asyncio.Future[Any]"]
FixtureExecute = Callable[[Any, Any, Any], Any]


class SpawnedTasks:
    """The tasks one test created on its function-scoped loop."""

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        # Weak, as asyncio's own registry: a finished task nobody holds is
        # collected (and logs "exception was never retrieved") when it would be.
        self._tasks: weakref.WeakSet[asyncio.Future[Any]] = weakref.WeakSet()

    def add(self, task: asyncio.Future[Any]) -> None:
        self._tasks.add(task)

    def cancel_left(self) -> None:
        """Cancel the tasks still pending and wait for them (in the test's greenlet).

        As ``asyncio.Runner.close()``: a task that ends with an exception other
        than the cancellation goes to the loop's exception handler (logged,
        in the test's teardown section); the test does not fail for it.
        """
        left = [task for task in self._tasks if not task.done()]
        self._tasks = weakref.WeakSet()
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


def track(item: Any) -> SpawnedTasks:
    """Start recording the tasks ``item`` creates (in the caller's context)."""
    tasks = SpawnedTasks()
    _TEST.set(tasks)
    _SPAWNED.set(tasks if _compat.loop_scope_of_test(item) == _compat.FUNCTION_LOOP else None)
    return tasks


def around_fixtures(execute: FixtureExecute) -> FixtureExecute:
    """Wrap ``FixtureDef.execute`` (as :class:`FixtureLocks` does): while a fixture
    is set up, its tasks are recorded with the test's only if pytest-asyncio
    would run it on the test's function-scoped loop."""

    def execute_recording(original: Any, fixturedef: Any, request: Any) -> Any:
        __tracebackhide__ = True
        function_loop = (
            _compat.loop_scope_of_fixture(fixturedef, request.config) == _compat.FUNCTION_LOOP
        )
        tasks = _TEST.get() if function_loop else None
        if tasks is _SPAWNED.get():
            return execute(original, fixturedef, request)
        token = _SPAWNED.set(tasks)
        try:
            return execute(original, fixturedef, request)
        finally:
            _SPAWNED.reset(token)

    return execute_recording


def task_factory(previous: TaskFactory | None) -> TaskFactory:
    """A task factory that records each task with the test creating it, made
    over the loop's ``previous`` one (None: asyncio's own)."""

    def create(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Future[Any]:
        if previous is not None:
            task = previous(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        tasks = _SPAWNED.get()
        if tasks is not None:
            tasks.add(task)
        return task

    return create


@contextlib.contextmanager
def recording(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Install :func:`task_factory` on ``loop`` for the run."""
    previous = loop.get_task_factory()
    loop.set_task_factory(task_factory(previous))
    try:
        yield
    finally:
        loop.set_task_factory(previous)
