"""What the worker loop changes in pytest and asyncio while it serves, undone after.

- pytest's ``SetupState`` is replaced by a router to each test's own
  (``setupstate.py``), since tests set up and tear down interleaved;
- ``FixtureDef.execute`` waits for a higher-scoped fixture another test is
  setting up (``fixtures.py``), records the tasks a fixture starts with its
  test's (``spawned.py``), and runs fixtures of wider scopes outside every test
  (``per_test.py``), as does ``FixtureDef.finish``;
- the loop gets the task factory recording tests' tasks (``spawned.py``), its
  class swapped for per-test overlays (``loop_overlay.py``), and
  ``run_until_complete`` and ``stop`` that work from a test's code (``bridge.py``);
- ``monkeypatch``'s and ``mock.patch``'s ``setattr`` make patches per test
  (``patches.py``), and their process-wide changes take the worker's gate
  (``isolation.py``);
- a bind to port 0 from a test's code takes a port no other test in flight
  found (``ports.py``);
- ``signal.signal`` and ``getsignal`` from a test's code read and set its own
  SIGINT and SIGTERM handlers (``signals.py``);
- a thread watches for a stalled run (``stalls.py``);
- pytest's ``PYTEST_CURRENT_TEST`` bookkeeping tolerates overlapping tests and
  tells the deadlines of each phase (``deadlines.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .. import _compat
from . import per_test
from .bridge import run_until_complete_bridged, stop_refused
from .fixtures import FixtureLocks
from .isolation import Gate
from .isolation import installed as gate_installed
from .loop_overlay import overlaid
from .patches import per_test_patches
from .ports import FoundPorts, ports_kept
from .setupstate import SetupStateRouter
from .signals import signals_per_test
from .spawned import around_fixtures, recording
from .stalls import PHASES, InFlight, Stall, StallWatch


def _finish(original: Callable[[Any, Any], Any], fixturedef: Any, request: Any) -> Any:
    __tracebackhide__ = True
    return original(fixturedef, request)


def _counted(
    on_phase: Callable[[pytest.Item, str | None], None],
) -> Callable[[pytest.Item, str | None], None]:
    """``on_phase``, counting each phase begun and each test ended (``stalls.py``)."""

    def counted(item: pytest.Item, when: str | None) -> None:
        PHASES[0] += 1
        on_phase(item, when)

    return counted


@contextlib.contextmanager
def engine_installed(
    session: pytest.Session,
    loop: asyncio.AbstractEventLoop,
    on_phase: Callable[[pytest.Item, str | None], None],
    gate: Gate,
    ports: FoundPorts,
    *,
    stall: tuple[Stall, Callable[[], list[InFlight]]] | None = None,
) -> Iterator[None]:
    """Install the engine's changes (see module docstring) for the ``with`` block."""
    locks = FixtureLocks()
    execute = per_test.wider_fixtures_outside(around_fixtures(locks.execute))
    with contextlib.ExitStack() as installed:
        installed.enter_context(_compat.setupstate_replaced(session, SetupStateRouter()))
        installed.enter_context(_compat.fixture_execute_wrapped(execute))
        installed.enter_context(
            _compat.fixture_finish_wrapped(per_test.wider_fixtures_outside(_finish))
        )
        installed.enter_context(recording(loop))
        installed.enter_context(overlaid(loop))
        installed.callback(gate_installed(gate))
        installed.enter_context(
            per_test_patches(gate, lambda target: target is loop or _compat.is_mock(target))
        )
        installed.enter_context(_compat.current_test_var_tolerant(_counted(on_phase)))
        installed.enter_context(ports_kept(ports))
        installed.enter_context(signals_per_test())
        installed.callback(run_until_complete_bridged(loop))
        installed.callback(stop_refused(loop))
        if stall is not None:
            watch = StallWatch(stall[0], loop, stall[1])
            watch.start()
            installed.callback(watch.stop)
        yield
