"""The worker loop: one asyncio loop running a worker's tests concurrently.

It is an engine, not a session runner: a driver (one-process mode, or an xdist
worker) hands it tests with :meth:`WorkerLoop.submit`, says :meth:`close` when no
more will come, and awaits :meth:`serve`. It tells the driver when a test is
admitted (``on_start``, before any of its code runs), done (``on_done``), and
*settled* (``settled``: wherever no test's code runs before the driver has sent
what it holds: after an admission, and after a test completes and its freed
claim admitted others; an xdist worker batches its events by it). Tests start
in submission order as far as the rules allow (see ``_core/admission.py``):

1. *Batches* (``batches.py``). Tests whose class/module/session fixtures take
   different parameters never overlap: a parameter change tears the previous
   instance down. A new batch starts when the previous one has finished.
2. *Admission.* Within the current batch, each waiting test starts as soon as the
   worker's cap and its resource keys allow.
3. *Stop.* When the run stops (``-x``, ``--maxfail``, :meth:`stop`), tests not yet
   started are dropped, and tests in flight are cancelled at their next await
   and reported failed with the reason; teardowns run to the end.
   *Timeout* (``deadlines.py``). A test with a timeout is cancelled the same
   way when it expires, in whatever phase it is.
4. *Hold.* While the loop is open (an xdist worker expecting more work), the
   last test to finish keeps its collectors (session and module fixtures) live:
   it reports itself done, then waits in its teardown until more tests arrive
   or the loop is closed, as xdist's own worker holds its last test. So session
   fixtures are set up once per worker, and their teardown errors are reported
   in that test's teardown, as in plain pytest.
5. *Abort* (Ctrl-C, :meth:`interrupt`; or a test calls ``pytest.exit()``). As
   in plain pytest, where the ``KeyboardInterrupt`` or ``Exit`` propagates
   from wherever the test was: tests in flight stop where they are and the
   phase they were in makes no report; what each had set up is torn down all
   the same, then the collectors; no test starts. The driver raises the
   exception (:attr:`aborted`) once :meth:`serve` has returned (see
   ``interrupt.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Callable, Iterable
from functools import partial

import pytest

from .._compat import BaseExceptionGroup
from .._core.admission import Admission, Claim
from .._core.gcpause import SpacedCollections
from .batches import Batches
from .bridge import (
    await_only,
    current_loop_restored,
    run_in_greenlet,
    worker_loop,
)
from .deadlines import Deadlines
from .fixtures import ScopeInstances
from .installed import engine_installed
from .isolation import Gate
from .item import ABORTS, TestRecord, run_test
from .output import OutputRouting
from .ports import FoundPorts
from .running import Running, in_flight, interrupt_all
from .setupstate import CollectorTree
from .stalls import Stall
from .waiting import Waiting

ABORTED = "aborted"
"""The stop reason of an abort (rule 5); tests in flight get ``KeyboardInterrupt``."""
OnDone = Callable[["pytest.Item", TestRecord], None]
OnStart = Callable[["pytest.Item"], None]
PASS_EVERY = 0.002
"""Seconds: the longest a run of tests that run alone goes without a pass of the
loop between two of them (a pass costs about 10 us; a trivial test 0.3 ms)."""
TimeoutOf = Callable[["pytest.Item", bool], "float | None"]
"""Seconds after which a test (running alone or not) is cancelled; None: never."""


class WorkerLoop:
    """Runs submitted tests concurrently under the resource rules; see module docstring."""

    def __init__(
        self,
        session: pytest.Session,
        claim_of: Callable[[pytest.Item], Claim],
        *,
        concurrency: int,
        limits: dict[str, int] | None = None,
        on_done: OnDone | None = None,
        on_start: OnStart | None = None,
        on_not_started: OnStart | None = None,
        settled: Callable[[], None] | None = None,
        timeout_of: TimeoutOf | None = None,
        stall: Stall | None = None,
        ports: FoundPorts | None = None,
    ) -> None:
        self._session = session
        self._timeout_of = timeout_of
        self._output = OutputRouting(session.config)
        self._collections = SpacedCollections()
        self._claim_of = claim_of
        self._on_done = on_done
        self._on_start = on_start
        self._on_not_started = on_not_started
        self._settled = settled
        self.admission = Admission(concurrency=concurrency, limits=dict(limits or {}))
        self._instances = ScopeInstances()
        self._tree = CollectorTree(torn_down=self._instances.release)
        self._batches = Batches()
        self._waiting = Waiting()
        self._running: dict[asyncio.Task[None], Running] = {}
        self._closed = False
        self._stop_reason: str | None = None
        self._wakeup: asyncio.Event | None = None
        self._deadlines = Deadlines(self._running, lambda: self._asyncio_loop)
        self._news: asyncio.Future[None] | None = None
        self._running_batch = -1
        self.aborted: BaseException | None = None
        """What stopped the run as in plain pytest (rule 5), for the driver to raise."""
        self._errors_after_abort: list[BaseException] = []
        self._asyncio_loop: asyncio.AbstractEventLoop | None = None
        self._stall = stall
        self._ports = ports or FoundPorts()
        self._gate = Gate(on_hold=self._held_still, on_release=self._wake)
        self._serve_context: contextvars.Context | None = None
        self._admitting = False
        self._passed = 0.0
        """When a run of tests that run alone last gave the loop a pass (``_run``)."""

    def submit(self, items: Iterable[pytest.Item]) -> None:
        """Queue tests to run, in order; may be called while :meth:`serve` runs."""
        items = list(items)
        self._tree.expect(items)
        for item in items:
            self._waiting.add(item, self._batches.of(item), self._claim_of(item))
        self._wake()

    def withdraw(self, items: Iterable[pytest.Item], *, whole: bool = False) -> list[pytest.Item]:
        """Take back those of ``items`` that have not started, to run elsewhere;
        ``whole``: all of them, or none if any has started.

        The next test to start stays: a collector that a finished test left live
        for it (its module, the session) is then torn down in the teardown of
        this worker's last test under it, as usual.
        """
        taken = self._waiting.withdraw(items, whole=whole)
        self._tree.forget(taken)
        return taken

    def close(self) -> None:
        """No more tests will be submitted; :meth:`serve` returns once all have run."""
        self._closed = True
        self._wake()

    def stop(self, reason: str) -> None:
        """Stop the run: drop tests not started, cancel tests in flight (rule 3)."""
        if self._stop_reason is None:
            self._stop_reason = reason
        self._wake()

    def interrupt(self) -> None:
        """Ctrl-C: stop as plain pytest does (rule 5)."""
        self._abort(KeyboardInterrupt())

    def _abort(self, cause: BaseException) -> None:
        if self.aborted is None:
            self.aborted = cause
        self.stop(ABORTED)

    def interrupt_soon(self) -> None:
        """Ctrl-C, from a signal handler (wherever the main thread was): the loop
        interrupts its tests at its next pass."""
        if self.aborted is None:
            self.aborted = KeyboardInterrupt()
        if self._asyncio_loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                self._asyncio_loop.call_soon_threadsafe(self.interrupt)

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()
        if self._news is not None and not self._news.done():
            self._news.set_result(None)

    def _stopping(self) -> str | None:
        reason = self._stop_reason or self._session.shouldfail or self._session.shouldstop
        return str(reason) if reason else None

    def _drop_waiting_if_stopping(self) -> None:
        if self._waiting and self._stopping():
            self._tree.forget(self._waiting.clear())

    def _interrupt_running(self, reason: str) -> set[asyncio.Task[None]]:
        """Cancel the tests in flight (not those tearing down); return their tasks."""
        return interrupt_all(self._running, reason, aborted=self.aborted is not None)

    def _start_admissible(self) -> None:
        self._admitting = True
        try:
            self._admit()
        finally:
            self._admitting = False

    def _admit(self) -> None:
        self._drop_waiting_if_stopping()
        head = self._waiting.head()
        if head is None or self._gate.holder is not None:  # no test starts (``isolation.py``)
            return
        # The first waiting test's batch is the next one (``waiting.py``); it
        # starts once the running one is done.
        batch = head[1]
        if self._running and self._running_batch != batch:
            return
        for item in self.admission.admit(
            self._waiting.of_batch(batch), self._waiting.note_key_wait
        ):
            running = self._started(item, batch)
            task = asyncio.get_running_loop().create_task(self._run(running))
            self._running[task] = running
            self._arm_timeout(task, running)
        self._settle()

    def _started(self, item: pytest.Item, batch: int) -> Running:
        """Take an admitted test off the waiting queue."""
        _, claim, wait = self._waiting.start(item)
        self._running_batch = batch
        running = Running(item, claim, TestRecord(item.nodeid, alone=claim.reason))
        if wait is not None:
            running.record.waits.append(wait)
        if self._on_start is not None:
            self._on_start(item)
        return running

    def _settle(self) -> None:
        """No test code runs before the next call: the driver sends what it holds."""
        if self._settled is not None:
            self._settled()

    def _arm_timeout(self, task: asyncio.Task[None], running: Running) -> None:
        seconds = self._timeout_of(running.item, running.claim.alone) if self._timeout_of else None
        if seconds:
            self._deadlines.arm(task, running, seconds)

    async def _run(self, running: Running) -> None:
        """Run ``running``'s test; then, while tests that run alone follow, run them too.

        A run of tests that each run alone (a sync suite) goes on in this task,
        where a task per test costs a wake-up of the serve loop, a new task and
        two passes. The loop gets a pass between two tests once at least
        :data:`PASS_EVERY` has gone by since its last: commands, timers and stops
        still get one within that time.
        """
        try:
            following: Running | None = running
            while following is not None:
                await self._run_one(following)
                following = await self._next_alone(following)
        finally:
            self._wake()

    async def _run_one(self, running: Running) -> None:
        try:
            if self._stopping():  # admitted just before the stop: never started
                self._tree.forget([running.item])
                if self._on_not_started is not None:
                    self._on_not_started(running.item)
                return
            self._collections.overlapping(not running.claim.alone)
            try:
                await run_test(
                    running.item,
                    running.record,
                    self._tree,
                    self._instances,
                    lambda: self._before_leaving(running),
                    next_batch=lambda: self._next_batch(running),
                    on_escape=lambda failure: self._escaped(running, failure),
                    alone=running.claim.alone,
                    output=self._output,
                    timed=running.clock.seconds > 0,
                )
            except ABORTS as cause:  # rule 5: it never completes; the others stop too
                if running.record.teardown_error is not None:
                    self._errors_after_abort.append(running.record.teardown_error)
                self._abort(cause)
                return
            self._report_done(running)
        finally:
            self._deadlines.done(running)
            self.admission.release(running.claim)
            current_loop_restored(asyncio.get_running_loop())
            if not (running.claim.alone or self._admitting or self._serve_context is None):
                # What the freed claim admits starts now, from this step, so that
                # the driver sends this test's end and their starts together; in
                # the serve loop's context: a task or timer made here copies the
                # context it is made in, and this one is the test's. (Not while
                # admitting: an eager task factory runs a test in create_task.)
                self._serve_context.run(self._start_admissible)
            self._settle()

    async def _next_alone(self, previous: Running) -> Running | None:
        """The next waiting test, admitted in this task, if it runs alone and may start."""
        if not (previous.claim.alone and self._next_waits_alone()):
            return None
        now = time.perf_counter()
        if now - self._passed >= PASS_EVERY:  # the loop's pass between tests
            self._passed = now
            await asyncio.sleep(0)
        task = asyncio.current_task()
        if task not in self._running or len(self._running) > 1 or not self._next_waits_alone():
            return None  # something else started meanwhile: the serve loop takes over
        head = self._waiting.head()
        assert head is not None
        item, batch, claim = head
        if not self.admission.admit([(item, claim)], self._waiting.note_key_wait):
            return None
        running = self._started(item, batch)
        self._running[task] = running
        self._arm_timeout(task, running)
        self._settle()  # its start goes out before its code runs, in this step
        return running

    def _next_waits_alone(self) -> bool:
        head = self._waiting.head()
        return head is not None and head[2].alone and not self._stopping()

    def _report_done(self, running: Running) -> None:
        if not running.done_reported:
            running.done_reported = True
            if self._on_done is not None:
                self._on_done(running.item, running.record)

    def _before_leaving(self, running: Running) -> None:
        """In the test's teardown, before it leaves its collectors (rule 4)."""
        self._drop_waiting_if_stopping()
        while not (self._closed or self._stopping()) and self._tree.is_last_user(running.item):
            self._deadlines.disarm(running)  # waiting for more work is not the test's time
            self._report_done(running)
            self._settle()
            self._news = worker_loop().create_future()
            held_from = time.time()
            try:
                await_only(self._news)
            finally:
                earlier = running.record.held
                running.record.held = (earlier[0] if earlier else held_from, time.time())
        self._drop_waiting_if_stopping()

    def _escaped(self, running: Running, failure: BaseException) -> bool:
        """``failure`` escaped a task ``running``'s test started (``spawned.py``):
        fail the test with it, in the phase it is in, as a timeout does. False: a
        real Ctrl-C (a second one, raised wherever it lands), to let through."""
        if self.aborted is not None:
            return False
        task = next((t for t, r in self._running.items() if r is running), None)
        if task is None or task.done() or running.record.finished:
            if self._asyncio_loop is not None:
                self._asyncio_loop.call_exception_handler(
                    {
                        "message": f"{type(failure).__name__} in a task that"
                        f" {running.item.nodeid} started, after that test ended",
                        "exception": failure,
                    }
                )
            return True
        if running.record.interruption is None:
            running.record.interruption = failure
            task.cancel()
        return True

    def _held_still(self, nodeid: str, what: str) -> None:
        """A test made a process-wide change, holding any others still (``isolation.py``)."""
        for running in self._running.values():
            record = running.record
            if running.item.nodeid == nodeid and not record.process_wide:
                record.process_wide = what
                record.held_others = not running.claim.alone and any(
                    other.record.started and not other.record.finished
                    for other in self._running.values()
                    if other is not running
                )

    def _next_batch(self, running: Running) -> frozenset[object] | None:
        """As ``running``'s test leaves its collectors, if it ends its batch (rule 1:
        every other test has left, and the next waits for a new batch): the
        collectors to keep live. As in a plain run between the batch's last test
        in order and the next batch's first: those both are under."""
        running.left = True
        head = self._waiting.head()
        if head is None:
            return None
        item, batch, _ = head
        # The batch check first: it settles nearly every leave without a scan.
        if batch == self._running_batch or any(not t.left for t in self._running.values()):
            return None
        last = self._batches.last.pop(self._running_batch, running.item)
        return frozenset(item.listchain()) & frozenset(last.listchain())

    async def serve(self) -> None:
        """Run every submitted test; return when closed and all have finished."""
        self._wakeup = asyncio.Event()
        self._asyncio_loop = asyncio.get_running_loop()
        if self.aborted is not None:  # Ctrl-C before the loop ran
            self._abort(self.aborted)
        with contextlib.ExitStack() as patches:
            patches.enter_context(
                engine_installed(
                    self._session,
                    self._asyncio_loop,
                    self._deadlines.on_phase,
                    self._gate,
                    self._ports,
                    stall=(self._stall, partial(in_flight, self._running, self._deadlines.phases))
                    if self._stall
                    else None,
                )
            )
            patches.callback(self._deadlines.close)
            patches.callback(self._output.off)
            patches.callback(self._collections.restore)
            try:
                await self._serve()
            finally:
                self._asyncio_loop = None
                await self._teardown_leftovers()

    async def _serve(self) -> None:
        assert self._wakeup is not None
        self._serve_context = contextvars.copy_context()
        while True:
            self._wakeup.clear()
            self._collect_finished()
            reason = self._stopping()
            if reason:
                self._drop_waiting_if_stopping()
                self._interrupt_running(reason)
            self._start_admissible()
            if not self._running and not self._waiting and (self._closed or reason):
                return
            await self._wakeup.wait()

    def _collect_finished(self) -> None:
        for task in [task for task in self._running if task.done()]:
            del self._running[task]
            task.result()  # re-raises an internal error

    async def _teardown_leftovers(self) -> None:
        """Tear down collectors still live (a test re-run by a plugin, an abort)."""
        # After Ctrl-C (the loop cancelled by a second one), tests stop as at the first.
        aborted = self.aborted is not None
        cancelled = self._interrupt_running(ABORTED) if aborted else set()
        for task in self._running:
            if task not in cancelled:
                task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self._running, return_exceptions=True)
        errors = self._errors_after_abort
        if self._tree.entries:
            errors += await run_in_greenlet(self._tree.teardown_all)
        if errors:
            raise BaseExceptionGroup("errors tearing down fixtures after the run", errors)
