"""One-process mode: ``pytest --dist=asyncgroup`` without ``-n`` (or with ``-n 0``)."""

from __future__ import annotations

import asyncio

import pytest

from ._declarations import claim_of
from ._settings import Settings
from .executor import WorkerLoop


def new_worker_loop(session: pytest.Session, settings: Settings, **kwargs: object) -> WorkerLoop:
    """The engine configured from the user's settings (one process, or one xdist worker)."""
    return WorkerLoop(
        session,
        lambda item: claim_of(item, settings),
        concurrency=settings.concurrency,
        limits=dict(settings.limits),
        **kwargs,  # type: ignore[arg-type]
    )


class OneProcessRun:
    """Replaces pytest's test loop with one :class:`WorkerLoop` for the whole session."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop: WorkerLoop | None = None
        self._session: pytest.Session | None = None
        self._stopped_because: str | None = None

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
        self.loop = loop = new_worker_loop(session, self.settings)
        loop.submit(session.items)
        loop.close()
        asyncio.run(loop.serve())
        # The session recounted as the cancelled tests failed: say what stopped us.
        if session.shouldfail:
            session.shouldfail = self._stopped_because or session.shouldfail
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            session.shouldstop = self._stopped_because or session.shouldstop
            raise session.Interrupted(session.shouldstop)
        return True

    @pytest.hookimpl(trylast=True)  # after the session has counted the failure
    def pytest_runtest_logreport(self) -> None:
        session = self._session
        if session is None or self.loop is None or self._stopped_because is not None:
            return
        reason = session.shouldfail or session.shouldstop
        if reason:
            self._stopped_because = str(reason)
            self.loop.stop(str(reason))
