"""One-process mode: ``pytest --dist=asyncgroup`` without ``-n`` (or with ``-n 0``)."""

from __future__ import annotations

import asyncio

import pytest

from ._declarations import claim_of
from ._settings import Settings
from .executor import WorkerLoop


class OneProcessRun:
    """Replaces pytest's test loop with one :class:`WorkerLoop` for the whole session."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop: WorkerLoop | None = None

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
        settings = self.settings
        self.loop = loop = WorkerLoop(
            session,
            lambda item: claim_of(item, settings),
            concurrency=settings.concurrency,
            limits=dict(settings.limits),
        )
        loop.submit(session.items)
        loop.close()
        asyncio.run(loop.serve())
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
        return True
