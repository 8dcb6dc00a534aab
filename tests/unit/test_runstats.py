"""The summary's arithmetic and the timeline's lanes (pure, no pytest run)."""

from __future__ import annotations

from pytest_asyncgroup._core.plan import OutsizedGroup
from pytest_asyncgroup._core.runstats import (
    Phase,
    TestSpan,
    outsized_lines,
    run_stats,
    summary_lines,
    trace_events,
)


def span(name: str, start: float, stop: float, worker: str = "gw0", **extra: object) -> TestSpan:
    phases = [
        Phase("setup", start, start + 0.1, "passed"),
        Phase("call", start + 0.1, stop - 0.1, "passed"),
        Phase("teardown", stop - 0.1, stop, "passed"),
    ]
    return TestSpan(name, worker, start, stop, phases, **extra)  # type: ignore[arg-type]


def test_a_held_teardown_is_not_the_tests_time() -> None:
    held = span("t", 0.0, 10.0, held=(1.0, 9.5))
    assert held.active() == [(0.0, 1.0), (9.5, 10.0)]
    stats = run_stats([held, span("u", 0.0, 2.0, worker="gw1")], groups=0, block_threshold=0.1)
    assert stats.wall == 10.0
    assert [(w.worker, w.busy, w.peak_in_flight) for w in stats.workers] == [
        ("gw0", 1.5, 1),
        ("gw1", 2.0, 1),
    ]
    assert stats.parallelism == (1.5 + 2.0) / 10.0


def test_waits_are_summed_per_key_longest_first_and_blockers_named() -> None:
    spans = [
        span("a", 0.0, 1.0, waits=[("db", 0.0, 0.5)], blocked=0.3),
        span("b", 0.0, 1.0, waits=[("db", 0.0, 0.25), ("api", 0.0, 0.1)]),
        span("c", 0.0, 1.0, waits=[("cache", 0.0, 0.6)], blocked=0.05),
    ]
    stats = run_stats(spans, groups=3, block_threshold=0.1)
    assert stats.key_waits == [("db", 0.75, 2), ("cache", 0.6, 1), ("api", 0.1, 1)]
    assert stats.blocked == [("a", 0.3)]


def test_the_summary_says_how_long_a_worker_had_its_cap_in_flight() -> None:
    # Cap 2: a and b together from 1 to 2, b and c from 3 to 4; busy from 0 to 5.
    spans = [span("a", 0.0, 2.0), span("b", 1.0, 4.0), span("c", 3.0, 5.0)]
    stats = run_stats(spans, groups=0, block_threshold=0.1, cap=2)
    assert stats.workers[0].at_cap == 2.0
    lines = summary_lines(stats, 0.1)
    assert lines[1].endswith(", at the concurrency cap 40% of its busy time")
    uncapped = run_stats(spans, groups=0, block_threshold=0.1, cap=3)
    assert uncapped.workers[0].at_cap == 0.0
    assert "concurrency cap" not in summary_lines(uncapped, 0.1)[1]


def test_lanes_are_reused_once_free_and_overlapping_tests_get_their_own() -> None:
    events = trace_events([span("a", 0.0, 1.0), span("b", 0.5, 1.5), span("c", 1.0, 2.0)])
    lanes = {e["name"]: e["tid"] for e in events if e.get("cat") == "call"}
    assert lanes == {"a": 1, "b": 2, "c": 1}
    names = {e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert names == {"lane 1", "lane 2"}


def test_an_outsized_group_is_named_with_plan_and_actual_and_advice() -> None:
    spans = [span(f"o{i}", i * 0.5, i * 0.5 + 1.0) for i in range(6)]  # 0.0 to 3.5 on gw0
    spans.append(span("free", 0.0, 1.0, worker="gw1"))
    group = OutsizedGroup(("orders", "stock"), tuple(f"o{i}" for i in range(6)), 6.0, 6 / 7, 2)
    wall = run_stats(spans, groups=1, block_threshold=0.1).wall
    lines = outsized_lines([group], spans, wall)
    assert lines == [
        "one group holds 86% of the run's estimated work, more than a worker's share"
        " (50% of 2): keys orders, stock, 6 tests; it ran for 3.50s of the 3.50s on gw0",
        "  a group runs on one worker: if each worker can have its own copy of the resource,"
        " list its keys in asyncgroup_per_worker (asyncgroup_per_worker = orders stock), else"
        " split it into keys that fewer tests share",
    ]
    assert outsized_lines([], spans, wall) == []
