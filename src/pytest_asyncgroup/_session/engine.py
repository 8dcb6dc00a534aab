"""The engine as both modes set it up: one process, and each xdist worker.

:class:`ClaimOf` says what each test holds while it runs; :func:`new_worker_loop`
makes the :class:`~.._engine.WorkerLoop` from the user's settings.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

import pytest

from .. import _compat
from .._core import apart
from .._core.keys import Declaration
from .._core.settings import Settings
from .._engine import (
    Claim,
    FoundPorts,
    OnDone,
    OnStart,
    Stall,
    WorkerLoop,
    is_async_test,
    on_other_backend,
)
from .declarations import declaration_of, timeout_of
from .history import load_process_wide


class ClaimOf:
    """What each test holds while it runs, from its declaration and what it is.

    Claims are values, so tests that declare the same and run the same way share
    one: a worker handed thousands of tests at once builds a handful of claims,
    and asks whether a test function is a coroutine function once per function.
    """

    def __init__(self, settings: Settings, process_wide: Mapping[str, str] | None = None) -> None:
        self._alone_fixtures = settings.alone_fixtures
        self._process_wide = process_wide or {}
        """Tests that made a change that cannot be per test in an earlier run."""
        self._claims: dict[tuple[Declaration, bool, str], Claim] = {}
        self._is_async: dict[object, bool] = {}

    def __call__(self, item: pytest.Item) -> Claim:
        declaration = declaration_of(item)
        alone = (
            declaration.serial
            or (not (declaration.shared or declaration.exclusive) and not self._async(item))
            or not self._alone_fixtures.isdisjoint(_compat.fixture_names(item))
            or item.nodeid in self._process_wide
        )
        reason = self._why_alone(item, declaration) if alone else ""
        claim = self._claims.get((declaration, alone, reason))
        if claim is None:
            claim = Claim(declaration.shared, declaration.exclusive, alone, reason)
            self._claims[declaration, alone, reason] = claim
        return claim

    def _why_alone(self, item: pytest.Item, declaration: Declaration) -> str:
        if declaration.serial:
            return apart.SERIAL
        if not declaration.keys and not self._async(item):
            return apart.SYNC
        if item.nodeid in self._process_wide and self._alone_fixtures.isdisjoint(
            _compat.fixture_names(item)
        ):
            return f"{apart.PROCESS_WIDE}: {self._process_wide[item.nodeid]}"
        initial, requests = _compat.fixture_requests(item)
        chain = apart.alone_chain(initial, requests, self._alone_fixtures)
        if chain is None:  # (requested dynamically only, or by an unusual collector)
            return f"{apart.ALONE_FIXTURE}: " + ", ".join(
                sorted(self._alone_fixtures.intersection(_compat.fixture_names(item)))
            )
        labels = {name: _compat.fixture_label(item, name) for name in chain}
        return f"{apart.ALONE_FIXTURE}: {apart.describe_chain(chain, labels)}"

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


def stall_to_stderr(where: str, seconds: float) -> Stall:
    """The stall report written to the process's standard error as it is now,
    before pytest's capture redirects it for a test (as ``faulthandler`` does)."""
    try:
        fd = os.dup(sys.stderr.fileno())
    except (AttributeError, ValueError, OSError):
        fd = os.dup(2)
    output = os.fdopen(fd, "w", encoding="utf-8", errors="replace", closefd=True)

    def report(text: str) -> None:
        output.write("\n" + text + "\n")
        output.flush()

    return Stall(seconds, report, where, close=output.close)


def new_worker_loop(
    session: pytest.Session,
    settings: Settings,
    on_done: OnDone | None = None,
    stall: Stall | None = None,
    on_start: OnStart | None = None,
    on_not_started: OnStart | None = None,
    settled: Callable[[], None] | None = None,
) -> WorkerLoop:
    """The engine configured from the user's settings (one process, or one xdist worker)."""
    return WorkerLoop(
        session,
        ClaimOf(settings, load_process_wide(session.config)),
        concurrency=settings.concurrency,
        timeout_of=lambda item, alone: (
            None if alone and settings.pytest_timeout_for_alone else timeout_of(item, settings)
        ),
        limits=dict(settings.limits),
        on_done=on_done,
        stall=stall,
        on_start=on_start,
        on_not_started=on_not_started,
        settled=settled,
        ports=FoundPorts(*_compat.worker_share(session.config)),
    )
