"""One-process mode: ``pytest --dist=asyncgroup`` without ``-n`` (or with ``-n 0``)."""

from __future__ import annotations

import pytest

from .. import _compat
from .._core.keys import Declaration
from .._core.plan import keyed_groups, plan_run
from .._core.settings import Settings
from .._engine import (
    Claim,
    OnDone,
    WorkerLoop,
    is_async_test,
    on_other_backend,
    run_interruptible,
)
from .declarations import declaration_of, declarations_error, declare_all, timeout_of
from .stopping import FirstStop


class ClaimOf:
    """What each test holds while it runs, from its declaration and what it is.

    Claims are values, so tests that declare the same and run the same way share
    one: a worker handed thousands of tests at once builds a handful of claims,
    and asks whether a test function is a coroutine function once per function.
    """

    def __init__(self, settings: Settings) -> None:
        self._alone_fixtures = settings.alone_fixtures
        self._claims: dict[tuple[Declaration, bool], Claim] = {}
        self._is_async: dict[object, bool] = {}

    def __call__(self, item: pytest.Item) -> Claim:
        declaration = declaration_of(item)
        alone = (
            declaration.serial
            or (not (declaration.shared or declaration.exclusive) and not self._async(item))
            or not self._alone_fixtures.isdisjoint(_compat.fixture_names(item))
        )
        claim = self._claims.get((declaration, alone))
        if claim is None:
            claim = Claim(declaration.shared, declaration.exclusive, alone)
            self._claims[declaration, alone] = claim
        return claim

    def _async(self, item: pytest.Item) -> bool:
        """Whether the test awaits on the worker loop; a test anyio runs on another
        backend (trio) blocks it, as a sync test does."""
        function = getattr(item, "obj", None)
        try:
            known = self._is_async.get(function)
        except TypeError:  # an unhashable callable: ask each time
            known = is_async_test(item)
        else:
            if known is None:
                known = self._is_async[function] = is_async_test(item)
        return known and not on_other_backend(_compat.anyio_backend_at_collection(item))


def new_worker_loop(
    session: pytest.Session, settings: Settings, on_done: OnDone | None = None
) -> WorkerLoop:
    """The engine configured from the user's settings (one process, or one xdist worker)."""
    return WorkerLoop(
        session,
        ClaimOf(settings),
        concurrency=settings.concurrency,
        timeout_of=lambda item, alone: (
            None if alone and settings.pytest_timeout_for_alone else timeout_of(item, settings)
        ),
        limits=dict(settings.limits),
        on_done=on_done,
    )


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
        self.loop = loop = new_worker_loop(session, self.settings)
        loop.submit(session.items)
        loop.close()
        run_interruptible(loop, loop.serve())
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
