"""How each runner's dialect says what a test may overlap (pure: mark expressions).

Every runner measures the *same* tests; only the way a test says what it may
overlap differs, and each dialect says it as well as its plugin allows:

============== ============================== ===================================
dialect        a test holding key K           an *exclusive* holder of K
============== ============================== ===================================
pytest-asyncio nothing (one test at a time)   nothing
xdist-group    ``xdist_group("K")``           ``xdist_group("K")`` (one at a time)
concurrent     ``asyncio_concurrent(group=    ``asyncio_concurrent`` alone: groups
               "<module>")``: one group per   run one after another and cannot
               module, since a group cannot   mix modules, so "overlaps nothing"
               span modules and groups never  is the best it can say
               overlap each other
cooperative    ``asyncio_cooperative``; plus  the same fixture, exclusive: the
               a user-written shared/         plugin only offers a mutex, so the
               exclusive lock fixture when    suite writes the readers-writer
               the suite has exclusive tests  lock itself
asyncgroup     ``resource("K")``              ``resource("K", exclusive=True)``
============== ============================== ===================================

Tests without keys get ``asyncio_concurrent(group="<module>")`` and
``asyncio_cooperative`` in those dialects, and nothing in the others. The
asyncgroup dialect is the pytest-asyncio one plus ``resource`` marks: it runs with
pytest-asyncio installed, in auto mode, as an existing suite would.
"""

from __future__ import annotations

from typing import Literal

Dialect = Literal["pytest-asyncio", "xdist-group", "concurrent", "cooperative", "asyncgroup"]
Files = dict[str, str]  # path relative to the suite's root -> text


def marks(dialect: Dialect, key: str | None, exclusive: bool, module: str) -> list[str]:
    """The mark expressions a test carries in ``dialect`` (see the module docstring)."""
    if dialect == "asyncgroup":
        if key is None:
            return []
        return [f"pytest.mark.resource({key!r}{', exclusive=True' if exclusive else ''})"]
    if dialect == "xdist-group":
        return [] if key is None else [f"pytest.mark.xdist_group({key!r})"]
    if dialect == "concurrent":
        if exclusive:
            return ["pytest.mark.asyncio_concurrent"]
        return [f"pytest.mark.asyncio_concurrent(group={module!r})"]
    if dialect == "cooperative":
        found = ["pytest.mark.asyncio_cooperative"]
        if key is not None:
            found.append(f"pytest.mark.bench_key({key!r}, exclusive={exclusive})")
        return found
    return []


def ini(dialect: Dialect, needs_key_lock: bool = False) -> str:
    lines = ["[pytest]"]
    if dialect in ("pytest-asyncio", "xdist-group", "asyncgroup"):
        lines += ["asyncio_mode = auto", "asyncio_default_fixture_loop_scope = function"]
    if dialect == "cooperative" and needs_key_lock:
        lines.append("markers = bench_key(key, exclusive): taken by the key_hold fixture")
    return "\n".join(lines) + "\n"


# The readers-writer lock a pytest-asyncio-cooperative user has to write: the
# plugin's own ``Lock`` is a mutex, which cannot let shared holders overlap.
COOPERATIVE_KEY_LOCK = '''
import asyncio

import pytest


class KeyLock:
    """Shared holders overlap; an exclusive holder overlaps none, and is not starved."""

    def __init__(self):
        self.shared = 0
        self.exclusive = False
        self.waiting_exclusive = 0
        self.changed = asyncio.Condition()


_locks = {}


@pytest.fixture(autouse=True)
async def key_hold(request):
    mark = request.node.get_closest_marker("bench_key")
    if mark is None:
        yield
        return
    lock = _locks.setdefault(mark.args[0], KeyLock())
    exclusive = mark.kwargs.get("exclusive", False)
    async with lock.changed:
        if exclusive:
            lock.waiting_exclusive += 1
            await lock.changed.wait_for(lambda: not lock.exclusive and lock.shared == 0)
            lock.waiting_exclusive -= 1
            lock.exclusive = True
        else:
            await lock.changed.wait_for(
                lambda: not lock.exclusive and lock.waiting_exclusive == 0
            )
            lock.shared += 1
    try:
        yield
    finally:
        async with lock.changed:
            if exclusive:
                lock.exclusive = False
            else:
                lock.shared -= 1
            lock.changed.notify_all()
'''


def mark_list(expressions: list[str]) -> str:
    return "[" + ", ".join(expressions) + "]"
