"""One-process mode: ``pytest --dist=asyncgroup`` without ``-n`` (or with ``-n 0``)."""

from __future__ import annotations

import pytest

from .._core.plan import keyed_groups, plan_run
from .._core.settings import Settings
from .._engine import WorkerLoop, run_interruptible
from .declarations import declaration_of, declarations_error, declare_all
from .engine import new_worker_loop, stall_to_stderr
from .loop_factory import loop_factory_of
from .stopping import FirstStop


class OneProcessRun:
    """Replaces pytest's test loop with one :class:`WorkerLoop` for the whole session."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop: WorkerLoop | None = None
        self._session: pytest.Session | None = None
        self._first_stop = FirstStop(self._stop)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # (An xdist worker sends its problems to the controller, which stops the run.)
        problems = declare_all(session.items)
        if problems:
            raise declarations_error(problems)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        # The same checks as pytest's own loop (_pytest.main.pytest_runtestloop).
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            errors = session.testsfailed
            raise session.Interrupted(
                f"{errors} error{'s' if errors != 1 else ''} during collection"
            )
        if session.config.option.collectonly:
            return True
        self._session = session
        stall = (
            stall_to_stderr("the main process", self.settings.stall_report)
            if self.settings.stall_report
            else None
        )
        self.loop = loop = new_worker_loop(session, self.settings, stall=stall)
        loop.submit(session.items)
        loop.close()
        try:
            run_interruptible(loop, loop.serve(), loop_factory_of(session.config))
        finally:
            if stall is not None:
                stall.close()  # (done already, unless the loop never served)
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
        return True

    @pytest.hookimpl(trylast=True)  # after the session has counted the failure
    def pytest_runtest_logreport(self) -> None:
        if self._session is not None:
            self._first_stop.check(self._session)

    def keyed_groups(self) -> int:
        """Groups of tests sharing keys in this run (for the summary)."""
        items = self._session.items if self._session is not None else []
        # Tests without keys make no keyed group: plan only those with keys.
        declarations = [d for d in map(declaration_of, items) if d.keys]
        return keyed_groups(plan_run(declarations, {}, self.settings.per_worker, 1).placements)

    def _stop(self, reason: str) -> None:
        if self.loop is not None:
            self.loop.stop(reason)
