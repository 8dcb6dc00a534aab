"""What our workers and controller say to each other, beyond xdist's own protocol.

xdist's controller sees only nodeids, and a worker event it does not know is an
internal error. So keys travel on a channel of our own: the controller opens
one per worker (``pytest_configure_node``) and passes it in
``node.workerinput[SIDE_CHANNEL]``; execnet can send channels inside messages.
The worker sends one message on it, before xdist's ``collectionfinish``: the
declaration of every collected test, by collection index, or the problems that
must stop the run. Nodeids are never changed. After that, only if the worker's
tests stall, the text of each stall report (``_engine/stalls.py``), which the
controller prints.

Controller -> worker, the other way, uses xdist's own command channel: workers
running our loop understand one more command, :data:`STOP_COMMAND`, and xdist's
``steal`` with one more argument, :data:`WHOLE` (give back all of the tests
asked for, or none: a group of tests sharing keys moves only whole).

Worker -> controller, a worker sends xdist's own events, in xdist's order, but
several to a message (:class:`EventBatcher`), packed with :mod:`marshal` when
the controller says it reads them (:data:`PACKED`, in ``workerinput``). An
event waits for the engine's next *settled* point, where no test code runs
before the held events are out (``WorkerLoop``'s ``settled``), or for the
loop's next pass, whichever comes first. The engine settles when it has
admitted tests, and when a test completes, after admitting what its freed claim
lets start: so a test's reports, its ``logfinish`` and
``runtest_protocol_complete`` travel with the ``logstart`` of the tests that
take its place, in one message, and a crash can lose neither. A test's
``logstart`` is sent when the engine admits it (:meth:`EventBatcher.started`),
before its code can run, and xdist's own ``logstart`` for it is then dropped. A
failing report goes at once (``-x`` acts on it). The controller unpacks
:data:`EVENTS` messages before xdist handles them.

Packed, a message is one ``bytes`` value to execnet. execnet serializes in
Python, value by value: about 90 us a test on the worker and 100 us on the
controller for a test's six events, where :mod:`marshal` (C) takes under 10 us
both ways. :mod:`marshal` keeps every type execnet sends (a tuple stays a tuple,
``1`` is not ``True``) and refuses what neither sends (a ``str`` subclass, any
other object); a message it refuses goes unpacked, the way xdist sends it, so
execnet's own error says what could not be sent. It does send a few values
execnet refuses: a ``bytearray`` or other buffer (as ``bytes``), a string with
lone surrogates, ``...``. The format is :mod:`marshal`'s version
:data:`MARSHAL_FORMAT`, which every supported Python reads and writes, so a
worker on another Python (``--tx``) is understood.

What the worker loop recorded about a test rides on its teardown report
(``_session/report.py``), which xdist serializes as it is.
"""

from __future__ import annotations

import marshal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import _compat
from .._core.keys import NO_RESOURCES, Declaration

SIDE_CHANNEL = "pytest_asyncgroup_channel"
STOP_COMMAND = "pytest_asyncgroup_stop"
WHOLE = "pytest_asyncgroup_whole"
EVENTS = "pytest_asyncgroup_events"
"""A worker event carrying xdist events in order: ``{"events": [(name, kwargs), ...]}``,
or that list packed: ``{"packed": marshal.dumps(events, MARSHAL_FORMAT)}``."""
PACKED = "pytest_asyncgroup_packed"
"""``workerinput`` key set by a controller that reads packed events: the format."""
MARSHAL_FORMAT = 4

Event = tuple[str, dict[str, Any]]


class EventBatcher:
    """Worker side: holds xdist events that may wait and sends them with the next.

    ``send(name, kwargs)`` sends one event; ``later(callback)`` runs ``callback``
    at the loop's next pass; :meth:`flush` is called at the engine's settled points;
    ``packed``: the controller reads packed events.
    """

    def __init__(
        self,
        send: Callable[[str, dict[str, Any]], None],
        later: Callable[[Callable[[], None]], Any],
        *,
        packed: bool = False,
    ) -> None:
        self._send = send
        self._later = later
        self._packed = packed
        self._held: list[Event] = []
        self._pass_due = False
        self._announced: set[str] = set()

    def started(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        """``nodeid`` was admitted: hold its ``logstart`` (xdist's own is dropped)."""
        self._announced.add(nodeid)
        self._hold(_compat.LOGSTART, {"nodeid": nodeid, "location": location})

    def event(self, name: str, kwargs: dict[str, Any]) -> None:
        if name == _compat.LOGSTART and kwargs.get("nodeid") in self._announced:
            self._announced.discard(kwargs["nodeid"])
            return
        self._hold(name, kwargs)

    def _hold(self, name: str, kwargs: dict[str, Any]) -> None:
        self._held.append((name, kwargs))
        if not _may_wait(name, kwargs):
            self.flush()
        elif not self._pass_due:
            self._pass_due = True
            self._later(self._on_pass)

    def _on_pass(self) -> None:
        self._pass_due = False
        self.flush()

    def flush(self) -> None:
        """Send what is held: packed, or one event alone, several as one :data:`EVENTS`."""
        held, self._held = self._held, []
        if not held:
            return
        if self._packed:
            try:
                packed = marshal.dumps(held, MARSHAL_FORMAT)
            except ValueError:  # a value it refuses: sent as xdist sends it (module docstring)
                pass
            else:
                self._send(EVENTS, {"packed": packed})
                return
        if len(held) == 1:
            self._send(*held[0])
        else:
            self._send(EVENTS, {"events": held})


def _may_wait(name: str, kwargs: dict[str, Any]) -> bool:
    if name in (_compat.LOGSTART, _compat.LOGFINISH, _compat.PROTOCOL_COMPLETE):
        return True
    if name == _compat.TESTREPORT:
        data = kwargs.get("data")
        return isinstance(data, dict) and data.get("outcome") in ("passed", "skipped")
    return False


def unpack(event: Any) -> list[Any]:
    """Controller side: the xdist events in ``event`` (itself, unless an :data:`EVENTS`)."""
    if isinstance(event, tuple) and len(event) == 2 and event[0] == EVENTS:
        packed = event[1].get("packed")
        events = marshal.loads(packed) if packed is not None else event[1]["events"]
        return [tuple(inner) for inner in events]
    return [event]


@dataclass(frozen=True)
class Collection:
    """One worker's collection as the scheduler needs it."""

    declarations: tuple[Declaration, ...]
    problems: tuple[str, ...] = ()

    def dump(self) -> dict[str, Any]:
        """A plain structure execnet can send (lists, strings, bools, ints).

        Only tests that declare something travel, by collection index: a suite
        of undeclared tests sends an empty list, not one entry per test.
        """
        return {
            "count": len(self.declarations),
            "declared": [
                [index, sorted(d.shared), sorted(d.exclusive), d.serial]
                for index, d in enumerate(self.declarations)
                if d is not NO_RESOURCES and d != NO_RESOURCES  # identity first: the usual case
            ],
            "problems": list(self.problems),
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> Collection:
        declarations = [NO_RESOURCES] * int(data["count"])
        for index, shared, exclusive, serial in data["declared"]:
            declarations[index] = Declaration(frozenset(shared), frozenset(exclusive), bool(serial))
        return cls(tuple(declarations), tuple(data["problems"]))
