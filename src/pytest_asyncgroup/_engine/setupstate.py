"""Setup bookkeeping for overlapping tests, in place of pytest's one-stack ``SetupState``.

pytest keeps one stack ``[session, module, item]`` and assumes the previous item
was torn down before the next is set up. With tests overlapping, the collectors
(session, packages, modules, classes) form a *tree* of live nodes shared by the
running tests, and each test has its own top entry.

- :class:`CollectorTree` holds the live collectors and counts, for each one, the
  tests still expected under it. A collector is set up by the first test that
  needs it and torn down inside the teardown of its last test - exactly where
  plain pytest reports module and session fixture teardown errors.
- :class:`TestSetupState` is one test's view, with the interface pytest calls
  (``setup``, ``addfinalizer``, ``teardown_exact``, ``is_node_active``,
  ``stack``). Its stack shares the collectors' entries, so a module fixture's
  finalizer lands on the module, whichever test set it up.
- :class:`SetupStateRouter` replaces ``session._setupstate`` for the run and
  forwards each call to the running test's view (a ContextVar).

Worked example, ``m1: t1 t2`` and ``m2: t3``, all three overlapping::

    expect(t1, t2, t3)       users: session 3, m1 2, m2 1
    setup(t1)                live: session, m1 (set up by t1)
    setup(t3)                live: session, m1, m2
    setup(t2)                m1 already live: shared entry
    teardown(t1)             m1 -> 1
    teardown(t3)             m2 -> 0: torn down here; session -> 1
    teardown(t2)             m1 -> 0 and session -> 0: torn down in t2's teardown
"""

from __future__ import annotations

import contextlib
import contextvars
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

from .._compat import TEST_OUTCOME, BaseExceptionGroup
from .bridge import LoopLock

Finalizers = list[Callable[[], object]]
Failure = tuple[BaseException, "TracebackType | None"]
Entry = tuple[Finalizers, "Failure | None"]


def _run_finalizers(node: Any, finalizers: Finalizers) -> list[BaseException]:
    errors: list[BaseException] = []
    while finalizers:
        finalizer = finalizers.pop()
        try:
            finalizer()
        except TEST_OUTCOME as exc:
            errors.append(exc)
    if len(errors) > 1:
        return [BaseExceptionGroup(f"errors while tearing down {node!r}", errors[::-1])]
    return errors


def _raise_all(errors: list[BaseException]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise BaseExceptionGroup("errors during test teardown", errors[::-1])


class CollectorTree:
    """Live collectors shared by overlapping tests, each torn down after its last test."""

    def __init__(self, torn_down: Callable[[Any], None] = lambda node: None) -> None:
        self.entries: dict[Any, Entry] = {}
        self._users: dict[Any, int] = {}
        self._torn_down = torn_down
        """Told each collector once its finalizers have run (its fixture instances
        are finished then)."""
        self._tearing_down = LoopLock()

    def expect(self, items: Iterable[pytest.Item]) -> None:
        """Count ``items`` as future users of their collectors."""
        self._count(items, 1)

    def forget(self, items: Iterable[pytest.Item]) -> None:
        """``items`` will not run here after all (the run stops, or another worker
        takes them): uncount them."""
        self._count(items, -1)

    def _count(self, items: Iterable[pytest.Item], sign: int) -> None:
        # Per parent, not per test: a module's thousand tests walk its chain once.
        users = self._users
        for parent, count in Counter(item.parent for item in items).items():
            for node in parent.listchain() if parent is not None else ():
                users[node] = users.get(node, 0) + sign * count

    def is_last_user(self, item: pytest.Item) -> bool:
        """Whether no other expected test needs ``item``'s session (so leaving ends it)."""
        return self._users.get(item.listchain()[0], 0) <= 1

    def enter(self, node: Any) -> Entry:
        """The live entry for ``node``, setting the collector up if it is not live."""
        entry = self.entries.get(node)
        if entry is None:
            entry = ([node.teardown], None)
            self.entries[node] = entry
            try:
                node.setup()
            except TEST_OUTCOME as exc:
                entry = (entry[0], (exc, exc.__traceback__))
                self.entries[node] = entry
                raise
        elif entry[1] is not None:
            failure, traceback = entry[1]
            raise failure.with_traceback(traceback)
        return entry

    def leave(
        self, item: pytest.Item, next_batch: Callable[[], Collection[Any] | None] = lambda: None
    ) -> None:
        """``item`` is done: tear down, innermost first, collectors it was the last user of.

        When ``next_batch()`` (asked once ``item`` has counted itself out) names
        collectors - every other test has left, and the next test starts a new
        batch - also every other live one, as plain pytest's
        ``teardown_exact(nextitem)`` would have by then. Where pytest's order
        (grouped by a parametrized fixture) splits a class or module, its
        fixtures are so set up again for its next run of tests, as in a plain run.
        """
        with self._one_teardown_at_a_time():
            for node in item.listchain()[:-1]:
                self._users[node] -= 1
            keep = next_batch()
            errors = self._teardown(
                lambda node: (
                    self._users.get(node, 0) <= 0 or (keep is not None and node not in keep)
                )
            )
        _raise_all(errors)

    def teardown_all(self) -> list[BaseException]:
        """Tear down every live collector (the run ends early)."""
        with self._one_teardown_at_a_time():
            return self._teardown(lambda node: True)

    @contextlib.contextmanager
    def _one_teardown_at_a_time(self) -> Iterator[None]:
        # A finalizer may wait (an async fixture's teardown). A test leaving
        # meanwhile waits too, and only then counts itself out: so it neither
        # tears a collector down twice, nor tears down a parent before its child,
        # nor has the teardown of its own collectors reported in another test.
        self._tearing_down.acquire()
        try:
            yield
        finally:
            self._tearing_down.release()

    def _teardown(self, unused: Callable[[Any], bool]) -> list[BaseException]:
        errors: list[BaseException] = []
        for node in reversed(list(self.entries)):
            if unused(node):
                finalizers, _ = self.entries.pop(node)
                errors.extend(_run_finalizers(node, finalizers))
                self._torn_down(node)
        return errors


class TestSetupState:
    """One test's setup stack: the shared collector entries plus its own."""

    __test__ = False  # not a test class, despite the name

    def __init__(
        self,
        tree: CollectorTree,
        item: pytest.Item,
        *,
        teardown_started: Callable[[], None],
        torn_down: Callable[[], None],
        before_leaving: Callable[[], None],
        next_batch: Callable[[], Collection[Any] | None] = lambda: None,
    ) -> None:
        self._tree = tree
        self._item = item
        self._teardown_started = teardown_started
        self._torn_down = torn_down
        self._before_leaving = before_leaving
        self._next_batch = next_batch
        self._left = False
        self.stack: dict[Any, Entry] = {}

    def is_node_active(self, node: Any) -> bool:
        return node in self.stack

    def setup(self, item: pytest.Item) -> None:
        assert item is self._item, (item, self._item)
        for node in item.listchain()[:-1]:
            self.stack[node] = self._tree.enter(node)
        entry: Entry = ([item.teardown], None)
        self.stack[item] = entry
        try:
            item.setup()
        except TEST_OUTCOME as exc:
            self.stack[item] = (entry[0], (exc, exc.__traceback__))
            raise

    def addfinalizer(self, finalizer: Callable[[], object], node: Any) -> None:
        assert node in self.stack, (node, self.stack)
        self.stack[node][0].append(finalizer)

    def teardown_exact(self, nextitem: pytest.Item | None) -> None:
        """Tear the test itself down, then the collectors it was the last user of.

        ``torn_down`` runs between the two (the tasks the test left running are
        cancelled there, see ``spawned.py``).
        ``nextitem`` is ignored: what runs next is the worker loop's business.
        ``before_leaving`` may wait (the worker loop holds the last test of an
        xdist worker here until more work or the shutdown arrives).
        ``next_batch`` says what stays live when a batch ends with this test
        (see :meth:`CollectorTree.leave`). A test run
        twice (pytest-rerunfailures) leaves its collectors once; the worker loop
        tears down whatever is still live when the run ends.
        """
        self._teardown_started()
        errors: list[BaseException] = []
        entry = self.stack.pop(self._item, None)
        if entry is not None:
            errors.extend(_run_finalizers(self._item, entry[0]))
        try:
            self._torn_down()
        except TEST_OUTCOME as exc:  # a timeout or stop while waiting for them
            errors.append(exc)
        self.stack.clear()
        if not self._left:
            self._left = True
            try:
                self._before_leaving()
                self._tree.leave(self._item, self._next_batch)
            except BaseException as exc:  # reported as this test's teardown error
                errors.append(exc)
        _raise_all(errors)


_CURRENT: contextvars.ContextVar[TestSetupState] = contextvars.ContextVar(
    "pytest_asyncgroup_setupstate"
)


def bind(state: TestSetupState) -> None:
    """Make ``state`` the setup state of the running test (in its own context)."""
    _CURRENT.set(state)


class SetupStateRouter:
    """Stands in for ``session._setupstate`` and forwards to the running test's state."""

    def _state(self) -> TestSetupState:
        try:
            return _CURRENT.get()
        except LookupError:
            raise RuntimeError(
                "pytest-asyncgroup: pytest's setup state was used outside a running test"
            ) from None

    @property
    def stack(self) -> dict[Any, Entry]:
        return self._state().stack

    @stack.setter
    def stack(self, stack: dict[Any, Entry]) -> None:
        # pytest-rerunfailures before 16 empties the stack before a re-run
        # (``setup_state.stack = {}``): that test's view starts again from its
        # collectors, which stay live in the tree for the tests beside it.
        self._state().stack = stack

    def is_node_active(self, node: Any) -> bool:
        return self._state().is_node_active(node)

    def setup(self, item: pytest.Item) -> None:
        self._state().setup(item)

    def addfinalizer(self, finalizer: Callable[[], object], node: Any) -> None:
        self._state().addfinalizer(finalizer, node)

    def teardown_exact(self, nextitem: pytest.Item | None) -> None:
        self._state().teardown_exact(nextitem)
