"""An xdist worker under ``--dist=asyncgroup``: run what the scheduler sends, concurrently.

xdist's own worker loop runs one test at a time. This plugin takes over the
worker's ``pytest_runtestloop`` and keeps xdist's protocol valid while tests
overlap:

- commands (``runtests``, ``runtests_all``, ``steal``, ``shutdown``, and our
  :data:`~._protocol.STOP_COMMAND`) arrive on execnet's receiver thread and
  are handed to the worker's event loop;
- every report is stamped with its own test's collection index (xdist keeps
  one "current index" per worker; each test's context knows its own);
- ``runtest_protocol_complete`` is sent exactly once per test, when the
  engine says it is done (the held last test says so before it waits).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Generator
from typing import Any

import pytest

from .. import _compat
from .._core.settings import Settings
from .._engine import Stall, TestRecord, WorkerLoop, run_interruptible
from .._session.declarations import declaration_of, declare_all
from .._session.engine import new_worker_loop
from .._session.loop_factory import loop_factory_of
from .protocol import (
    JOURNAL,
    MARSHAL_FORMAT,
    PACKED,
    SIDE_CHANNEL,
    STOP_COMMAND,
    WHOLE,
    Collection,
    EventBatcher,
    Journal,
)

_INDEX: contextvars.ContextVar[int] = contextvars.ContextVar("pytest_asyncgroup_item_index")
_CHANNEL_CLOSED = object()


class WorkerRun:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        workerinput = _compat.worker_input(config) or {}
        self._side_channel = workerinput[SIDE_CHANNEL]
        self._packed = workerinput.get(PACKED) == MARSHAL_FORMAT
        self._journal_path: str | None = workerinput.get(JOURNAL) if self._packed else None
        self._items: list[pytest.Item] = []
        self._index_of: dict[pytest.Item, int] = {}
        self._loop: WorkerLoop | None = None
        self._interactor: Any = None
        self._batcher: EventBatcher | None = None

    @pytest.hookimpl(tryfirst=True)  # before xdist sends "collectionfinish"
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        problems = declare_all(session.items)
        declarations = () if problems else tuple(declaration_of(i) for i in session.items)
        self._side_channel.send(Collection(declarations, tuple(problems)).dump())

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        self._items = session.items  # unchanged: xdist's indices point into it
        self._index_of = {item: index for index, item in enumerate(session.items)}
        self._interactor = _compat.worker_interactor(self.config)
        stall = None
        if self.settings.stall_report:  # to the controller, which prints it (``controller.py``)
            where = _compat.worker_id(self.config)
            stall = Stall(self.settings.stall_report, self._side_channel.send, where)
        self._loop = new_worker_loop(
            session,
            self.settings,
            on_done=self._done,
            stall=stall,
            on_start=self._started,
            on_not_started=self._not_started,
            settled=self._settled,
        )
        try:
            run_interruptible(self._loop, self._serve(self._loop), loop_factory_of(session.config))
        except pytest.exit.Exception as exit:
            # The controller ends the whole run when a worker says it should stop.
            session.shouldstop = f"pytest.exit() on {_compat.worker_id(self.config)}: {exit.msg}"
            raise
        return True  # xdist's own loop does not run

    async def _serve(self, loop: WorkerLoop) -> None:
        running = asyncio.get_running_loop()

        def on_command(command: Any) -> None:  # on execnet's receiver thread
            # Once the loop has closed the worker is finishing: nothing to do.
            with contextlib.suppress(RuntimeError):
                running.call_soon_threadsafe(self._command, command)

        self._interactor.channel.setcallback(on_command, endmarker=_CHANNEL_CLOSED)
        # xdist's six events per test travel together with others' (protocol.py).
        journal = None
        if self._journal_path is not None:
            with contextlib.suppress(OSError):  # without it, events go as they settle
                journal = Journal(self._journal_path)
        self._batcher = batcher = EventBatcher(
            _compat.worker_event_sender(self._interactor),
            running.call_soon,
            packed=self._packed,
            journal=journal,
            after=running.call_later,
        )
        unroute = _compat.route_worker_events(self._interactor, batcher.event)
        try:
            await loop.serve()
        finally:
            batcher.send_held()
            unroute()
            if journal is not None:
                journal.close()

    def _command(self, command: Any) -> None:
        loop = self._loop
        assert loop is not None
        if command is _CHANNEL_CLOSED:
            loop.close()
            return
        name, kwargs = command
        if name == _compat.RUNTESTS:
            loop.submit(self._items[index] for index in kwargs["indices"])
        elif name == _compat.RUNTESTS_ALL:
            loop.submit(self._items)
        elif name == _compat.SHUTDOWN:
            loop.close()
        elif name == STOP_COMMAND:
            loop.stop(str(kwargs["reason"]))
        elif name == _compat.STEAL:  # an idle worker will run those not started here
            taken = loop.withdraw(
                (self._items[index] for index in kwargs["indices"]),
                whole=bool(kwargs.get(WHOLE, False)),
            )
            self._interactor.sendevent(
                _compat.UNSCHEDULED, indices=[self._index_of[item] for item in taken]
            )

    def _done(self, item: pytest.Item, record: TestRecord) -> None:
        self._interactor.sendevent(
            _compat.PROTOCOL_COMPLETE,
            item_index=self._index_of[item],
            duration=time.perf_counter() - record.started,
        )

    def _started(self, item: pytest.Item) -> None:
        """Admitted: its ``logstart`` goes now, with what else is held (``protocol.py``)."""
        if self._batcher is not None:
            self._batcher.started(item.nodeid, item.location)

    def _not_started(self, item: pytest.Item) -> None:
        """Admitted, its ``logstart`` sent, then dropped by a stop before it ran: the
        controller learns it is done, as a test that ran nothing."""
        self._interactor.sendevent(
            _compat.PROTOCOL_COMPLETE, item_index=self._index_of[item], duration=0.0
        )

    def _settled(self) -> None:
        if self._batcher is not None:
            self._batcher.flush()

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        _INDEX.set(self._index_of[item])  # in the test's own context
        return (yield)

    @pytest.hookimpl(tryfirst=True)  # before xdist's hook sends the report
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        index = _INDEX.get(None)
        if index is not None and self._interactor is not None:
            _compat.set_item_index(self._interactor, index)
