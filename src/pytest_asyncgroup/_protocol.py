"""What our workers and controller say to each other, beyond xdist's own protocol.

xdist's controller sees only nodeids, and a worker event it does not know is an
internal error. So keys travel on a channel of our own: the controller opens
one per worker (``pytest_configure_node``) and passes it in
``node.workerinput[SIDE_CHANNEL]``; execnet can send channels inside messages.
The worker sends one message on it, before xdist's ``collectionfinish``: the
declaration of every collected test, by collection index, or the problems that
must stop the run. Nodeids are never changed.

Controller -> worker, the other way, uses xdist's own command channel: workers
running our loop understand one more command, :data:`STOP_COMMAND`.

What the worker loop recorded about a test (key waits, the hold, the longest
stretch it held the loop) rides on its teardown report as the attribute
:data:`REPORT_ATTRIBUTE`: plain JSON, which xdist serializes with the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._keys import NO_RESOURCES, Declaration

SIDE_CHANNEL = "pytest_asyncgroup_channel"
STOP_COMMAND = "pytest_asyncgroup_stop"
REPORT_ATTRIBUTE = "asyncgroup"


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
                if d != NO_RESOURCES
            ],
            "problems": list(self.problems),
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> Collection:
        declarations = [NO_RESOURCES] * int(data["count"])
        for index, shared, exclusive, serial in data["declared"]:
            declarations[index] = Declaration(frozenset(shared), frozenset(exclusive), bool(serial))
        return cls(tuple(declarations), tuple(data["problems"]))
