"""How a worker's xdist events travel: held, batched, unpacked in order (no pytest run)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import execnet

from pytest_asyncgroup._xdist.protocol import EVENTS, EventBatcher, unpack


class Wire:
    """What the batcher sent, and the callbacks it asked to run at the loop's next pass."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.next_pass: list[Callable[[], None]] = []

    def batcher(self) -> EventBatcher:
        return EventBatcher(self.send, self.later)

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


def test_a_test_started_and_ended_between_two_settled_points_is_one_message() -> None:
    wire = Wire()
    batcher = wire.batcher()
    batcher.started("t", ("t.py", 1, "t"))  # admitted: the engine then settles
    batcher.flush()
    assert wire.received() == [("logstart", {"nodeid": "t", "location": ("t.py", 1, "t")})]
    for name, kwargs in one_test():  # xdist's own logstart is dropped: it went already
        batcher.event(name, kwargs)
    batcher.started("u", ("t.py", 2, "u"))  # the freed claim admits the next test
    batcher.flush()  # settled: nothing of t's or u's code runs before this
    assert [name for name, _ in wire.messages] == ["logstart", EVENTS]
    assert wire.received()[1:] == [
        *one_test()[1:],
        ("logstart", {"nodeid": "u", "location": ("t.py", 2, "u")}),
    ]


def test_a_logstart_not_announced_goes_as_xdist_sent_it() -> None:
    wire = Wire()
    batcher = wire.batcher()
    for name, kwargs in one_test():
        batcher.event(name, kwargs)
    batcher.flush()
    assert wire.received() == one_test()


def test_a_failing_report_goes_at_once_with_what_was_held() -> None:
    wire = Wire()
    batcher = wire.batcher()
    events = one_test("failed")
    for name, kwargs in events[:3]:  # up to the failing call report
        batcher.event(name, kwargs)
    assert wire.received() == events[:3]  # -x acts on it before the teardown ends


def test_held_events_go_at_the_loops_next_pass() -> None:
    wire = Wire()
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
