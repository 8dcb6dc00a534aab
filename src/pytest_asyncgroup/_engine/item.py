"""One test's whole pytest protocol (setup, call, teardown, reports) as an asyncio task.

The protocol is pytest's own ``pytest_runtest_protocol``, so every plugin's hooks
run as usual and reports stream as each phase ends. Around it, the test gets:
its node's instance of each class/module/package fixture and, when it overlaps
others, its own function-scoped FixtureDefs (``fixtures.py``); its own setup
stack bound in its own context; and plain ``Function`` methods if
pytest-asyncio replaced them.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from .. import _compat
from . import per_test
from .bridge import await_only, in_bridge, run_in_greenlet
from .output import OutputRouting, capture_for_this_test
from .setupstate import CollectorTree, TestSetupState, bind
from .spawned import OnEscape, track
from .warnings import WarningsState

if TYPE_CHECKING:
    from .fixtures import ScopeInstances


@dataclass(slots=True)
class TestRecord:
    """One test's progress, and when it held its claim (``time.perf_counter``)."""

    __test__ = False

    nodeid: str
    started: float = field(default=0.0)
    finished: float = field(default=0.0)
    tearing_down: bool = False
    interruption: BaseException | None = None
    """Set by the worker loop before cancelling the test's task (a stop, a timeout)."""
    waits: list[tuple[str, float, float]] = field(default_factory=list)
    """``(key, start, end)`` in ``time.time()``: waiting for a resource key to start."""
    held: tuple[float, float] | None = None
    """``(start, end)`` in ``time.time()``: the worker's last test waiting for more work."""
    blocked: float = 0.0
    """The longest this test's code ran without yielding to the loop, in seconds."""
    alone: str = ""
    """Why it ran alone in its worker, if it did (``_core/apart.py``)."""
    process_wide: str = ""
    """The first change it made that cannot be per test, if any (``isolation.py``)."""
    held_others: bool = False
    """It made that change while other tests were in flight, and held them still."""
    teardown_error: BaseException | None = None
    """What failed tearing the test down after Ctrl-C or ``pytest.exit()`` stopped it
    (no report carries it)."""
    step_started: float | None = None
    """When the step of the test's code now running began (``time.perf_counter``);
    None between steps. Kept for tests that overlap others, or have a timeout."""


ABORTS = (KeyboardInterrupt, pytest.exit.Exception)
"""What pytest lets out of a test's phase to end the session: Ctrl-C, ``pytest.exit()``."""

RECORD = pytest.StashKey[TestRecord]()
"""The record of a test's latest run by the worker loop."""


class _TestSteps:
    """What the bridge does around each step of an overlapping test's code:
    swap in its warnings state, and time how long it holds the loop."""

    __slots__ = ("_record", "_started", "warnings")

    def __init__(self, record: TestRecord) -> None:
        self._record = record
        self.warnings = WarningsState()
        self._started = 0.0

    def enter(self) -> None:
        self.warnings.enter()
        self._started = self._record.step_started = time.perf_counter()

    def exit(self) -> None:
        self._record.step_started = None
        held = time.perf_counter() - self._started
        if held > self._record.blocked:
            self._record.blocked = held
        self.warnings.exit()


class _StepClock:
    """For a test that runs alone with a timeout: when its current step began."""

    __slots__ = ("_record",)

    def __init__(self, record: TestRecord) -> None:
        self._record = record

    def enter(self) -> None:
        self._record.step_started = time.perf_counter()

    def exit(self) -> None:
        self._record.step_started = None


def is_async_test(item: pytest.Item) -> bool:
    """Whether the test body is a coroutine function (with or without pytest-asyncio)."""
    function = getattr(item, "obj", None)
    return function is not None and inspect.iscoroutinefunction(function)


def on_other_backend(backend: object) -> bool:
    """Whether an ``anyio_backend`` value names a backend other than asyncio (trio):
    anyio's own plugin then runs the test and its async fixtures, with its runner."""
    name = _compat.anyio_backend_name(backend)
    return name is not None and name != "asyncio"


def call_async_test(pyfuncitem: pytest.Function) -> bool:
    """``pytest_pyfunc_call`` for an ``async def`` test run by the worker loop."""
    __tracebackhide__ = True
    if not in_bridge() or not is_async_test(pyfuncitem):
        return False
    funcargs = pyfuncitem.funcargs
    if on_other_backend(funcargs.get(_compat.ANYIO_BACKEND)):
        return False
    arguments = {name: funcargs[name] for name in _compat.test_argnames(pyfuncitem)}
    await_only(pyfuncitem.obj(**arguments))
    return True


async def run_test(
    item: pytest.Item,
    record: TestRecord,
    tree: CollectorTree,
    instances: ScopeInstances,
    before_leaving: Callable[[], None],
    *,
    next_batch: Callable[[], Collection[Any] | None],
    on_escape: OnEscape,
    alone: bool,
    output: OutputRouting,
    timed: bool = False,
) -> TestRecord:
    """Run ``item``'s protocol to the end on the running loop (in the caller's task).

    A test that overlaps others gets its own output capture and warnings state
    (``output.py``, ``warnings.py``); one that runs ``alone`` keeps pytest's
    process-wide ones, exactly as in a plain run.
    """
    record.started = time.perf_counter()
    item.stash[RECORD] = record
    scope: _TestSteps | _StepClock | None = None
    warnings: WarningsState | None = None  # the tasks it starts run their steps under it
    if alone:  # nothing runs beside it: pytest's own per-process machinery is right
        output.off()
        if timed:  # its steps are timed, for a timeout when it holds the loop
            scope = _StepClock(record)
    else:
        output.on()
        capture_for_this_test()
        scope = _TestSteps(record)
        warnings = scope.warnings
    undo_fixtures = instances.use_for(item, alone=alone)
    undo_methods = _compat.plain_function_methods(item)

    def teardown_started() -> None:
        record.tearing_down = True

    test = per_test.begin(item.nodeid)  # in the test's own context, as ``track``
    tasks = track(item, warnings, on_escape)

    def torn_down() -> None:
        tasks.cancel_left()
        test.end()  # what it left set on shared objects goes (``loop_overlay.py``)

    state = TestSetupState(
        tree,
        item,
        teardown_started=teardown_started,
        torn_down=torn_down,
        before_leaving=before_leaving,
        next_batch=next_batch,
    )

    def protocol() -> None:
        bind(state)
        # As pytest's own loop calls it (config.hook, not the per-path ihook).
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=None)

    def teardown_after_interrupt() -> None:
        bind(state)
        state.teardown_exact(None)

    try:
        try:
            await run_in_greenlet(protocol, lambda: record.interruption, scope)
        except ABORTS:
            # Ctrl-C, pytest.exit(): pytest's protocol stopped where it was (that
            # phase made no report). What the test set up is torn down all the
            # same, as the end of a plain pytest session tears it down.
            record.interruption = None
            try:
                await run_in_greenlet(teardown_after_interrupt, lambda: record.interruption, scope)
            except KeyboardInterrupt:  # a second Ctrl-C
                raise
            except BaseException as error:  # raised after the run (``loop.py``, rule 5)
                record.teardown_error = error
            raise
    finally:
        test.end()
        undo_methods()
        undo_fixtures()
        record.finished = time.perf_counter()
    return record
