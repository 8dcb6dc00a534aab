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
before the held events are safe from a crash (``WorkerLoop``'s ``settled``),
or for the loop's next pass, whichever comes first. The engine settles when it
has admitted tests, and when a test completes, after admitting what its freed
claim lets start: so a test's reports, its ``logfinish`` and
``runtest_protocol_complete`` travel with the ``logstart`` of the tests that
take its place, and a crash can lose neither. A test's ``logstart`` goes when
the engine admits it (:meth:`EventBatcher.started`), before its code can run,
and xdist's own ``logstart`` for it is then dropped. A failing report goes at
once, with all that waits (``-x`` acts on it). The controller unpacks
:data:`EVENTS` messages before xdist handles them.

Safe from a crash means sent, or journaled. A worker on the controller's
machine is given a file (:data:`JOURNAL`): at a settled point it writes the
packed batch there (:class:`Journal`) and sends it :data:`HOLD` seconds later,
with the batches settled meanwhile, in one message. Each message wakes the
controller, and with two workers busy on two cores that wake-up takes a core
from a worker; a write to a file wakes nobody. When a worker's channel ends
(it died, or the run ended), the controller first handles what the worker's
journal holds beyond the last batch that came (:class:`Receiver`), then
xdist's end. A worker elsewhere (``--tx ssh=``, ``socket=``) sends each batch
as it settles.

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

import contextlib
import marshal
import os
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
JOURNAL = "pytest_asyncgroup_journal"
"""``workerinput`` key set for a worker on the controller's machine: the path of the
file it journals its packed events to (:class:`Journal`)."""
HOLD = 0.02
"""Seconds a journaled batch waits for others before they go to the controller."""

Event = tuple[str, dict[str, Any]]


class Journal:
    """Worker side: the file a worker writes each packed batch to before it is sent.

    A record is a batch's length (4 bytes), its number (8 bytes, from 1, both
    little-endian) and the batch. A write to a file wakes no other process, where
    a write to the controller's pipe wakes it; and what is written is in the file
    even if the worker dies the next instant. Once the batches are sent, the file
    is emptied: what is in a pipe reaches the controller even if the worker dies.
    """

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def append(self, number: int, batch: bytes) -> None:
        head = len(batch).to_bytes(4, "little") + number.to_bytes(8, "little")
        record = memoryview(head + batch)
        while record:
            record = record[os.write(self._fd, record) :]

    def clear(self) -> None:
        os.ftruncate(self._fd, 0)

    def close(self) -> None:
        os.close(self._fd)


def read_journal(path: str) -> list[tuple[int, bytes]]:
    """Controller side: the numbered batches in a worker's journal (a record cut
    short by the worker's death is not one)."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError:
        return []
    batches = []
    at = 0
    while at + 12 <= len(data):
        end = at + 12 + int.from_bytes(data[at : at + 4], "little")
        if end > len(data):
            break
        batches.append((int.from_bytes(data[at + 4 : at + 12], "little"), data[at + 12 : end]))
        at = end
    return batches


class EventBatcher:
    """Worker side: holds xdist events that may wait and sends them with the next.

    ``send(name, kwargs)`` sends one event; ``later(callback)`` runs ``callback``
    at the loop's next pass; :meth:`flush` is called at the engine's settled points;
    ``packed``: the controller reads packed events. With a ``journal`` (and
    ``after(delay, callback)``, the loop's timer), a flush packs what is held into
    the journal, and the packed batches go to the controller :data:`HOLD` seconds
    after the first of them, or at once with a failing report (:meth:`send_held`).
    """

    def __init__(
        self,
        send: Callable[[str, dict[str, Any]], None],
        later: Callable[[Callable[[], None]], Any],
        *,
        packed: bool = False,
        journal: Journal | None = None,
        after: Callable[[float, Callable[[], None]], Any] | None = None,
    ) -> None:
        self._send = send
        self._later = later
        self._packed = packed
        self._journal = journal if packed and after is not None else None
        self._after = after
        self._held: list[Event] = []
        self._pass_due = False
        self._announced: set[str] = set()
        self._journaled: list[bytes] = []
        self._numbered = 0
        """Batches journaled so far: the number of the last."""

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
            self.send_held()
        elif not self._pass_due:
            self._pass_due = True
            self._later(self._on_pass)

    def _on_pass(self) -> None:
        self._pass_due = False
        self.flush()

    def flush(self) -> None:
        """Make what is held safe from a crash: into the journal, or sent.

        Sent: packed, or one event alone, several as one :data:`EVENTS`.
        """
        held, self._held = self._held, []
        if not held:
            return
        if self._packed:
            try:
                packed = marshal.dumps(held, MARSHAL_FORMAT)
            except ValueError:  # a value it refuses: sent as xdist sends it (module docstring)
                self._send_journaled()
            else:
                if not self._journaled_to_go(packed):
                    self._send(EVENTS, {"packed": packed})
                return
        if len(held) == 1:
            self._send(*held[0])
        else:
            self._send(EVENTS, {"events": held})

    def _journaled_to_go(self, packed: bytes) -> bool:
        """Journal ``packed``, to go after the hold; ``False``: no journal (any more)."""
        if self._journal is None:
            return False
        try:
            self._journal.append(self._numbered + 1, packed)
        except OSError:  # (a full disk): from now on, sent as they settle
            self._journal = None
            self._send_journaled()
            return False
        self._numbered += 1
        self._journaled.append(packed)
        if len(self._journaled) == 1:
            assert self._after is not None
            self._after(HOLD, self._send_journaled)
        return True

    def send_held(self) -> None:
        """Send everything held or journaled, now (a failing report, the end)."""
        self.flush()
        self._send_journaled()

    def _send_journaled(self) -> None:
        if self._journaled:
            batches, self._journaled = self._journaled, []
            self._send(EVENTS, {"journaled": batches, "last": self._numbered})
            if self._journal is not None:  # a death before this: the controller knows "last"
                with contextlib.suppress(OSError):
                    self._journal.clear()


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
        kwargs = event[1]
        if "journaled" in kwargs:
            return _events_of(kwargs["journaled"])
        packed = kwargs.get("packed")
        events = marshal.loads(packed) if packed is not None else kwargs["events"]
        return [tuple(inner) for inner in events]
    return [event]


class Receiver:
    """Controller side, one per worker: unpacks its messages, and when its channel
    ends (a crash, or the end of the run), first what its journal holds that never
    came (``journal``: the file's path, or ``None`` for a worker that keeps none)."""

    def __init__(self, journal: str | None) -> None:
        self._journal = journal
        self._last = 0
        """The number of the last journaled batch that came."""

    def unpack(self, event: Any) -> list[Any]:
        if not isinstance(event, tuple):  # execnet's end marker: the worker is gone
            return [*self._unsent(), event]
        if event[0] == EVENTS and "journaled" in event[1]:
            self._last = event[1]["last"]
        return unpack(event)

    def _unsent(self) -> list[Any]:
        if self._journal is None:
            return []
        batches = [batch for number, batch in read_journal(self._journal) if number > self._last]
        with contextlib.suppress(OSError):
            os.remove(self._journal)
        self._journal = None
        return _events_of(batches)


def _events_of(batches: list[bytes]) -> list[Any]:
    return [tuple(event) for batch in batches for event in marshal.loads(batch)]


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
