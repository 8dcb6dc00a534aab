"""How a worker's xdist events travel: held, batched, unpacked in order (no pytest run)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import execnet
import pytest

from pytest_asyncgroup._compat import worker_is_local
from pytest_asyncgroup._xdist.protocol import (
    EVENTS,
    HOLD,
    EventBatcher,
    Journal,
    Receiver,
    read_journal,
    unpack,
)


class Wire:
    """What the batcher sent, and the callbacks it asked to run at the loop's next pass."""

    def __init__(self, packed: bool) -> None:
        self.packed = packed
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.next_pass: list[Callable[[], None]] = []

    def batcher(self) -> EventBatcher:
        return EventBatcher(self.send, self.later, packed=self.packed)

    def send(self, name: str, kwargs: dict[str, Any]) -> None:
        """Through execnet's serializer, as a channel sends: the controller's copy."""
        self.messages.append(execnet.loads(execnet.dumps((name, kwargs))))

    def later(self, callback: Callable[[], None]) -> None:
        self.next_pass.append(callback)

    def loop_pass(self) -> None:
        due, self.next_pass = self.next_pass, []
        for callback in due:
            callback()

    def received(self) -> list[Any]:
        """What the controller handles, message by message, after unpacking."""
        return [event for message in self.messages for event in unpack(message)]


@pytest.fixture(params=[True, False], ids=["packed", "unpacked"])
def wire(request: pytest.FixtureRequest) -> Wire:
    """Events packed (a controller that reads them) and not (one that does not)."""
    return Wire(packed=request.param)


def report(when: str, outcome: str = "passed") -> tuple[str, dict[str, Any]]:
    return ("testreport", {"data": {"when": when, "outcome": outcome, "nodeid": "t"}})


def one_test(outcome: str = "passed") -> list[tuple[str, dict[str, Any]]]:
    return [
        ("logstart", {"nodeid": "t"}),
        report("setup"),
        report("call", outcome),
        report("teardown"),
        ("logfinish", {"nodeid": "t"}),
        ("runtest_protocol_complete", {"item_index": 0, "duration": 0.1}),
    ]


def test_a_test_started_and_ended_between_two_settled_points_is_one_message(wire: Wire) -> None:
    batcher = wire.batcher()
    batcher.started("t", ("t.py", 1, "t"))  # admitted: the engine then settles
    batcher.flush()
    assert wire.received() == [("logstart", {"nodeid": "t", "location": ("t.py", 1, "t")})]
    for name, kwargs in one_test():  # xdist's own logstart is dropped: it went already
        batcher.event(name, kwargs)
    batcher.started("u", ("t.py", 2, "u"))  # the freed claim admits the next test
    batcher.flush()  # settled: nothing of t's or u's code runs before this
    assert [name for name, _ in wire.messages] == [EVENTS if wire.packed else "logstart", EVENTS]
    assert wire.received()[1:] == [
        *one_test()[1:],
        ("logstart", {"nodeid": "u", "location": ("t.py", 2, "u")}),
    ]


def test_a_logstart_not_announced_goes_as_xdist_sent_it(wire: Wire) -> None:
    batcher = wire.batcher()
    for name, kwargs in one_test():
        batcher.event(name, kwargs)
    batcher.flush()
    assert wire.received() == one_test()


def test_a_failing_report_goes_at_once_with_what_was_held(wire: Wire) -> None:
    batcher = wire.batcher()
    events = one_test("failed")
    for name, kwargs in events[:3]:  # up to the failing call report
        batcher.event(name, kwargs)
    assert wire.received() == events[:3]  # -x acts on it before the teardown ends


def test_held_events_go_at_the_loops_next_pass(wire: Wire) -> None:
    batcher = wire.batcher()
    for name, kwargs in one_test()[:2]:  # started, set up, then it awaits
        batcher.event(name, kwargs)
    assert wire.received() == []
    wire.loop_pass()
    assert wire.received() == one_test()[:2]
    assert len(wire.messages) == 1
    wire.loop_pass()  # nothing held: nothing sent
    assert len(wire.messages) == 1


def test_other_messages_pass_through_unpack() -> None:
    end = object()  # execnet's end marker when the channel closes
    assert unpack(end) == [end]
    assert unpack(("logstart", {"nodeid": "t"})) == [("logstart", {"nodeid": "t"})]


def _typed(value: Any) -> Any:
    """``value`` with every container's and scalar's type spelled out, to compare."""
    if isinstance(value, dict):
        return ("dict", sorted((_typed(k), _typed(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_typed(v) for v in value])
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__, sorted(map(_typed, value)))
    return (type(value).__name__, repr(value))


# A serialized report of the shapes pytest and plugins put in one.
REPORT = {
    "nodeid": "test_m.py::test_f[é]",
    "location": ("test_m.py", 12, "test_f[é]"),
    "keywords": {"test_f[é]": 1, "parametrize": 1, "test_m.py": 1},
    "outcome": "failed",
    "longrepr": {
        "reprcrash": {"path": "/x/test_m.py", "lineno": 13, "message": "assert 1 == 2"},
        "reprtraceback": {"reprentries": [{"type": "ReprEntry", "data": {"lines": ["> x"]}}]},
        "sections": [("Captured stdout call", "out\n")],
        "chain": None,
    },
    "when": "call",
    "user_properties": [("n", 1), ("flag", True), ("big", 2**70), ("raw", b"\x00")],
    "sections": [("Captured stdout call", "out\n")],
    "duration": 0.125,
    "start": 1700000000.5,
    "stop": 1700000000.625,
    "$report_type": "TestReport",
    "item_index": 3,
    "worker_id": "gw0",
    "extra": {"set": {1, 2}, "frozen": frozenset({"a"}), "none": None, "nan": float("inf")},
}


def test_packed_events_arrive_as_execnet_delivers_them() -> None:
    events = [
        ("logstart", {"nodeid": REPORT["nodeid"], "location": REPORT["location"]}),
        ("testreport", {"data": REPORT}),
        ("runtest_protocol_complete", {"item_index": 3, "duration": 0.25}),
    ]
    received = []
    for packed in (True, False):
        wire = Wire(packed)
        batcher = wire.batcher()
        for name, kwargs in events:
            batcher.event(name, kwargs)
        batcher.flush()  # (the failing report went at once, with the logstart)
        assert [kwargs.get("packed") is not None for _, kwargs in wire.messages] == [packed] * 2
        received.append(_typed(wire.received()))
    assert received[0] == received[1]
    assert received[0] == _typed(events)


class _Name(str):
    """A value neither marshal nor execnet sends."""


def test_a_message_marshal_refuses_goes_as_xdist_sends_it() -> None:
    wire = Wire(packed=True)
    batcher = wire.batcher()
    batcher.event("testreport", {"data": {"when": "setup", "outcome": "passed", "x": _Name()}})
    with pytest.raises(execnet.DataFormatError, match="can't serialize"):
        batcher.flush()  # execnet's own error, as under xdist's own wire
    batcher.event(*report("setup"))
    batcher.flush()  # the next message is packed again
    assert "packed" in wire.messages[-1][1]
    assert wire.received() == [report("setup")]


class JournaledWire(Wire):
    """A worker on the controller's machine: it journals packed batches to a file."""

    def __init__(self, path: str) -> None:
        super().__init__(packed=True)
        self.path = path
        self.journal = Journal(path)
        self.timers: list[tuple[float, Callable[[], None]]] = []
        self.receiver = Receiver(path)

    def batcher(self) -> EventBatcher:
        return EventBatcher(
            self.send, self.later, packed=True, journal=self.journal, after=self.after
        )

    def after(self, delay: float, callback: Callable[[], None]) -> None:
        self.timers.append((delay, callback))

    def hold_ends(self) -> None:
        due, self.timers = self.timers, []
        for _, callback in due:
            callback()

    def received(self) -> list[Any]:
        return [event for message in self.messages for event in self.receiver.unpack(message)]


@pytest.fixture
def journaled(tmp_path: Path) -> JournaledWire:
    return JournaledWire(str(tmp_path / "gw0.journal"))


def settle_one_test(batcher: EventBatcher) -> list[tuple[str, dict[str, Any]]]:
    """A passing test's events, up to the settled point after it: what was held."""
    events = one_test()
    for name, kwargs in events:
        batcher.event(name, kwargs)
    batcher.flush()
    return events


def test_a_settled_point_journals_and_the_batches_go_together_after_the_hold(
    journaled: JournaledWire,
) -> None:
    batcher = journaled.batcher()
    batcher.started("t", ("t.py", 1, "t"))
    batcher.flush()
    for name, kwargs in one_test():
        batcher.event(name, kwargs)
    batcher.flush()
    assert journaled.messages == []  # nothing woke the controller yet
    assert len(read_journal(journaled.path)) == 2  # but a crash now loses nothing
    assert [delay for delay, _ in journaled.timers] == [HOLD]  # one timer, from the first
    journaled.hold_ends()
    assert len(journaled.messages) == 1
    assert read_journal(journaled.path) == []  # what is in the pipe is safe: not kept
    assert journaled.received() == [
        ("logstart", {"nodeid": "t", "location": ("t.py", 1, "t")}),
        *one_test()[1:],
    ]


def test_a_failing_report_goes_at_once_with_what_was_journaled(
    journaled: JournaledWire,
) -> None:
    batcher = journaled.batcher()
    first = settle_one_test(batcher)
    failing = one_test("failed")
    for name, kwargs in failing[:3]:
        batcher.event(name, kwargs)
    assert journaled.received() == first + failing[:3]  # in order, with no timer fired


def test_a_worker_gone_is_followed_by_what_it_journaled_and_never_sent(
    journaled: JournaledWire,
) -> None:
    batcher = journaled.batcher()
    settle_one_test(batcher)
    journaled.hold_ends()  # sent
    batcher.started("u", ("t.py", 2, "u"))
    batcher.flush()  # journaled, then the worker dies before its hold ends
    with open(journaled.path, "ab") as file:  # and a record it was writing is cut short
        file.write((100).to_bytes(4, "little") + (3).to_bytes(8, "little") + b"\x00" * 10)
    end = object()  # execnet's end marker
    journaled.messages.append(end)  # type: ignore[arg-type]
    assert journaled.received() == [
        *one_test(),
        ("logstart", {"nodeid": "u", "location": ("t.py", 2, "u")}),
        end,
    ]
    assert not os.path.exists(journaled.path)


def test_a_worker_that_keeps_no_journal_sends_at_each_settled_point(tmp_path: Path) -> None:
    wire = Wire(packed=False)  # a controller that reads no packed events
    batcher = EventBatcher(
        wire.send, wire.later, packed=False, journal=Journal(str(tmp_path / "j")), after=print
    )
    for name, kwargs in one_test():
        batcher.event(name, kwargs)
    batcher.flush()
    assert wire.received() == one_test()
    assert read_journal(str(tmp_path / "j")) == []


def test_batches_sent_but_still_in_the_journal_come_once(journaled: JournaledWire) -> None:
    # The worker died after sending its batches, before it emptied its journal.
    batcher = journaled.batcher()
    settle_one_test(batcher)
    kept = Path(journaled.path).read_bytes()
    journaled.hold_ends()
    Path(journaled.path).write_bytes(kept)
    end = object()
    journaled.messages.append(end)  # type: ignore[arg-type]
    assert journaled.received() == [*one_test(), end]


@pytest.mark.parametrize(
    ("tx", "local"),
    [
        ("popen", True),
        ("popen//python=python3.12", True),
        ("popen//via=gw0", False),
        ("socket=192.168.1.2:8888", False),
        ("ssh=host//python=python3", False),
    ],
)
def test_only_a_worker_on_this_machine_is_given_a_journal(tx: str, local: bool) -> None:
    class Gateway:
        spec = execnet.XSpec(tx)

    class Node:
        gateway = Gateway()

    assert worker_is_local(Node()) is local


def test_a_journal_that_cannot_be_written_sends_everything_as_it_settles(
    journaled: JournaledWire,
) -> None:
    batcher = journaled.batcher()
    first = settle_one_test(batcher)  # journaled, waiting for its hold

    def full(number: int, batch: bytes) -> None:
        raise OSError(28, "No space left on device")

    journaled.journal.append = full  # type: ignore[method-assign]
    batcher.started("u", ("t.py", 2, "u"))
    batcher.flush()  # sent at once, after what was journaled
    assert journaled.received() == [
        *first,
        ("logstart", {"nodeid": "u", "location": ("t.py", 2, "u")}),
    ]
    batcher.started("v", ("t.py", 3, "v"))
    batcher.flush()  # and so from now on
    assert journaled.received()[-1] == ("logstart", {"nodeid": "v", "location": ("t.py", 3, "v")})
