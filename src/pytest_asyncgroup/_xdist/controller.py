"""The controller side of ``pytest -n N --dist=asyncgroup``: xdist hooks, no logic.

Opens each worker's side channel (see ``protocol.py``), makes the scheduler,
and tells it what only the controller's hooks see: which tests started, which
workers crashed, and when ``-x``/``--maxfail`` stop the run (the session
counts failures, as in any pytest run; ``_session/stopping.py``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .. import _compat
from .._core.plan import OutsizedGroup, keyed_groups, outsized_groups
from .._core.settings import Settings
from .._session.history import load_durations
from .._session.stopping import FirstStop
from .protocol import JOURNAL, MARSHAL_FORMAT, PACKED, SIDE_CHANNEL, Collection, Receiver
from .scheduler import AsyncGroupScheduling

if TYPE_CHECKING:
    from xdist.workermanage import WorkerController
else:
    WorkerController = Any

# The worker sends its collection on the side channel before xdist's
# "collectionfinish", so it is there when the scheduler asks; the timeout only
# catches a worker without this plugin (a remote --tx host missing it).
COLLECTION_TIMEOUT = 60.0


class ControllerRun:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.scheduler: AsyncGroupScheduling | None = None
        self._channels: dict[WorkerController, Any] = {}
        self._session: pytest.Session | None = None
        self._first_stop = FirstStop(self._stop)
        self._journals: Path | None = None
        """The directory of the workers' journals (``protocol.py``), made for the first."""

    @pytest.hookimpl
    def pytest_configure_node(self, node: WorkerController) -> None:
        channel = node.gateway.newchannel()
        node.workerinput[SIDE_CHANNEL] = channel
        node.workerinput[PACKED] = MARSHAL_FORMAT  # it reads packed events
        self._channels[node] = channel
        journal = self._journal_for(node)
        if journal is not None:
            node.workerinput[JOURNAL] = journal
        _compat.unpack_worker_events(node, Receiver(journal).unpack)

    def _journal_for(self, node: WorkerController) -> str | None:
        """Where ``node``'s worker journals its events (``protocol.py``), or ``None``:
        a worker elsewhere cannot write our files, and without a temporary
        directory a worker sends its events as they settle."""
        if not _compat.worker_is_local(node):
            return None
        if self._journals is None:
            try:
                self._journals = Path(tempfile.mkdtemp(prefix="pytest-asyncgroup-"))
            except OSError:
                return None
        return str(self._journals / f"{len(self._channels)}-{node.gateway.id}.journal")

    def pytest_unconfigure(self) -> None:
        if self._journals is not None:
            shutil.rmtree(self._journals, ignore_errors=True)

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> AsyncGroupScheduling:
        self.scheduler = AsyncGroupScheduling(
            config,
            log,
            settings=self.settings,
            receive_collection=self._receive_collection,
            history=load_durations(config),
        )
        return self.scheduler

    def keyed_groups(self) -> int:
        """Groups of tests sharing keys in the plan (for the summary)."""
        return keyed_groups(self.scheduler.plan if self.scheduler is not None else ())

    def outsized_groups(self) -> list[OutsizedGroup[str]]:
        """Groups of the plan that hold more than a worker's share (for the summary)."""
        scheduler = self.scheduler
        if scheduler is None or scheduler.collection is None:
            return []
        names = scheduler.collection
        found = outsized_groups(scheduler.plan, scheduler.plan_workers)
        return [
            OutsizedGroup(g.keys, tuple(names[i] for i in g.tests), g.estimate, g.share, g.workers)
            for g in found
        ]

    def _receive_collection(self, node: WorkerController) -> Collection:
        channel = self._channels[node]
        try:
            data = channel.receive(timeout=COLLECTION_TIMEOUT)
        except Exception as exc:  # execnet's TimeoutError or RemoteError
            raise pytest.UsageError(
                f"pytest-asyncgroup: worker {node.gateway.id!r} did not describe its tests "
                f"({exc.__class__.__name__}); is pytest-asyncgroup installed where it runs?"
            ) from None
        # What comes next on the channel is a stall report (``_engine/stalls.py``).
        channel.setcallback(self._print_stall_report)
        return Collection.load(data)

    def _print_stall_report(self, text: object) -> None:
        """On execnet's receiver thread; the main thread is waiting for events,
        as none come while the worker's tests are stalled."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write("\n")  # after the progress dots, on a line of its own
            reporter.write_line(str(text))

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        if self.scheduler is not None:
            self.scheduler.mark_started(nodeid)

    def pytest_testnodedown(self, node: WorkerController, error: object) -> None:
        if self.scheduler is None:
            return
        if error is not None:
            self.scheduler.mark_crashed(node, error)
            return
        # A worker that ended its session early (a test called pytest.exit()) says
        # why; xdist then only shuts the others down once they ran all they have.
        output = _compat.worker_output(node)
        reason = output.get("shouldstop") or output.get("shouldfail")
        if reason:
            self._stop(str(reason))

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._session = session

    @pytest.hookimpl(trylast=True)  # after the session has counted the failure
    def pytest_runtest_logreport(self) -> None:
        if self._session is not None:
            self._first_stop.check(self._session)

    def _stop(self, reason: str) -> None:
        if self.scheduler is not None:
            self.scheduler.stop(reason)
