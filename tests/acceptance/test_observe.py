"""The run summary, the timeline, the plan, tests that block the loop.

README: "Seeing the run".
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from ..conftest import events, write_ini

DIST = "--dist=asyncgroup"
MODES = [pytest.param([], id="one-process"), pytest.param(["-n", "2"], id="n2")]

SUITE = """
import asyncio, time
import pytest
from recorder import waiting

@pytest.mark.resource("db", exclusive=True)
@pytest.mark.parametrize("i", range(3))
async def test_db(i):
    await waiting(f"db{i}", 0.1, key="db")

@pytest.mark.resource("api")
@pytest.mark.parametrize("i", range(10))
async def test_api(i):
    await waiting(f"api{i}", 0.2, key="api")

async def test_blocks_the_loop():
    time.sleep(0.3)
    await asyncio.sleep(0.01)
"""


@pytest.mark.parametrize("mode", MODES)
def test_summary_names_workers_groups_peaks_waits_and_blockers(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(test_seen=SUITE)
    result = suite.runpytest(DIST, *mode)
    result.assert_outcomes(passed=14)
    workers = "2 workers" if mode else "1 worker"
    result.stdout.fnmatch_lines(
        [
            "*= asyncgroup summary =*",
            f"{workers}, 2 groups sharing keys, 14 tests; tests ran for *s, effective "
            "parallelism * (sum of test durations / that time)",
        ]
    )
    # The api group's 10 tests were all in flight at once on their worker.
    result.stdout.fnmatch_lines(["  * tests, peak 1[0-4] in flight, busy *s of *s"])
    result.stdout.fnmatch_lines(["longest waits for keys: db *s (2 tests)*"])
    result.stdout.fnmatch_lines(
        [
            "blocked the event loop longer than 0.1s (asyncgroup_block_threshold)*",
            "  test_seen.py::test_blocks_the_loop: *s",
        ]
    )
    # At least its 0.3 s sleep (more on a loaded machine).
    assert _seconds_after(result, "  test_seen.py::test_blocks_the_loop: ") >= 0.3


def _seconds_after(result: pytest.RunResult, prefix: str) -> float:
    line = next(line for line in result.stdout.lines if line.startswith(prefix))
    return float(line.removeprefix(prefix).removesuffix("s"))


def test_block_threshold_setting(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_seen=SUITE)
    # Above the 0.3 s the test holds the loop, with room for a loaded machine.
    write_ini(suite, "asyncgroup_block_threshold = 5")
    result = suite.runpytest(DIST)
    result.assert_outcomes(passed=14)
    result.stdout.no_fnmatch_line("*blocked the event loop*")

    write_ini(suite, "asyncgroup_block_threshold = soon")
    result = suite.runpytest(DIST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*asyncgroup_block_threshold: 'soon' is not a number of seconds >= 0*"]
    )


def _check_trace_format(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """The trace event format's rules that viewers rely on; returns the slices."""
    assert set(trace) == {"traceEvents", "displayTimeUnit"}
    slices = []
    for event in trace["traceEvents"]:
        assert {"name", "ph", "pid", "tid"} <= set(event)
        assert isinstance(event["pid"], int)
        assert isinstance(event["tid"], int)
        if event["ph"] == "M":
            assert event["name"] in ("process_name", "thread_name")
            assert isinstance(event["args"]["name"], str)
        else:
            assert event["ph"] == "X"  # complete events: nothing to balance
            assert event["ts"] >= 0
            assert event["dur"] >= 0
            slices.append(event)
    lanes: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for event in slices:
        lanes[event["pid"], event["tid"]].append(event)
    for lane in lanes.values():  # slices of one lane follow each other, never overlap
        for before, after in itertools.pairwise(lane):
            assert before["ts"] <= after["ts"]
            assert before["ts"] + before["dur"] <= after["ts"] + 1e-3
    return slices


@pytest.mark.parametrize("mode", MODES)
def test_a_timeline_path_that_cannot_be_written_stops_the_run_at_the_start(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(
        test_ran="""
        from pathlib import Path

        async def test_leaves_a_mark():
            (Path(__file__).parent / "RAN").write_text("")
        """
    )
    (suite.path / "afile").write_text("")
    result = suite.runpytest(DIST, *mode, "--asyncgroup-timeline=afile/trace.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: pytest-asyncgroup: --asyncgroup-timeline: 'afile/trace.json': "
            "*afile' is not a directory"
        ]
    )
    assert not (suite.path / "RAN").exists()

    # Missing directories are made, as for --junitxml.
    result = suite.runpytest(DIST, *mode, "--asyncgroup-timeline=out/run/trace.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["timeline: out/run/trace.json (open in *perfetto*)"])
    assert json.loads((suite.path / "out/run/trace.json").read_text())["traceEvents"]

    # A path that goes bad during the run costs the timeline, not the results.
    suite.makepyfile(
        test_ran="""
        from pathlib import Path

        async def test_puts_a_file_in_the_way():
            (Path(__file__).parent / "late").write_text("")
        """
    )
    result = suite.runpytest(DIST, *mode, "--asyncgroup-timeline=late/trace.json")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["timeline: not written: *late*"])


@pytest.mark.parametrize("mode", MODES)
def test_timeline_shows_overlap_and_exclusive_holders_in_turn(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(test_seen=SUITE)
    result = suite.runpytest(DIST, *mode, "--asyncgroup-timeline=trace.json")
    result.assert_outcomes(passed=14)
    result.stdout.fnmatch_lines(["timeline: trace.json (open in *perfetto*)"])
    trace = json.loads((suite.path / "trace.json").read_text())
    slices = _check_trace_format(trace)
    processes = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "process_name"}
    assert processes == ({"gw0", "gw1"} if mode else {"main"})

    calls = [e for e in slices if e["cat"] == "call"]
    assert {e["name"].split("::")[1] for e in calls} == {
        *(f"test_db[{i}]" for i in range(3)),
        *(f"test_api[{i}]" for i in range(10)),
        "test_blocks_the_loop",
    }
    assert all(e["args"]["outcome"] == "passed" for e in calls)
    api = [e for e in calls if "test_api" in e["name"]]
    assert len({e["pid"] for e in api}) == 1
    assert len({e["tid"] for e in api}) == 10  # ten lanes...
    latest_start = max(e["ts"] for e in api)
    assert all(e["ts"] <= latest_start <= e["ts"] + e["dur"] for e in api)  # ...at once

    def extent(name: str) -> tuple[float, float]:
        own = [e for e in slices if e["name"] == name and e["cat"] != "wait"]
        return min(e["ts"] for e in own), max(e["ts"] + e["dur"] for e in own)

    db = sorted(extent(f"test_seen.py::test_db[{i}]") for i in range(3))
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(db))  # exclusive: one after another
    waits = [e for e in slices if e["cat"] == "wait"]
    assert {e["name"] for e in waits} == {"wait db"}
    assert len(waits) == 2


@pytest.mark.parametrize("mode", MODES)
def test_plan_prints_groups_and_workers_and_runs_nothing(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(test_seen=SUITE)
    result = suite.runpytest(DIST, *mode, "--asyncgroup-plan")
    assert result.ret == pytest.ExitCode.OK
    assert events(suite) == []  # nothing ran
    workers = ["gw0", "gw1"] if mode else ["main"]
    result.stdout.fnmatch_lines(
        [
            f"asyncgroup plan: {len(workers)} worker*, 2 groups sharing keys, 14 tests",
        ]
    )
    result.stdout.fnmatch_lines(["  keys api: 10 tests, est. 10.0 (tests; no durations*"])
    result.stdout.fnmatch_lines(["  keys db: 3 tests, est. 3.0 (tests; no durations*"])
    planned = {
        line.split(":")[0]: line for line in result.stdout.lines if line.split(":")[0] in workers
    }
    assert set(planned) == set(workers)

    # The run follows the plan: each group ran on the worker the plan named.
    result = suite.runpytest(DIST, *mode)
    result.assert_outcomes(passed=14)
    ran_on = {str(e["key"]): str(e["worker"]) for e in events(suite) if "key" in e}
    plan_again = suite.runpytest(DIST, *mode, "--asyncgroup-plan").stdout.lines
    assert any("est." in line and line.endswith("s") for line in plan_again)  # history now
    owner = _owners(plan_again)
    assert set(owner) == {"api", "db"}
    assert owner == {key: ran_on[key] for key in owner}


def _owners(lines: list[str]) -> dict[str, str]:
    """key -> worker, read back from the plan's text."""
    owner: dict[str, str] = {}
    worker = ""
    for line in lines:
        if line.startswith(("gw", "main")) and ": " in line:
            worker = line.split(":")[0]
        elif line.startswith("  keys "):
            owner[line[len("  keys ") :].split(":")[0]] = worker
    return owner


def test_plan_lists_serial_tests(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_serial="""
        import pytest

        @pytest.mark.serial
        async def test_alone():
            pass

        async def test_free():
            pass
        """
    )
    result = suite.runpytest(DIST, "--asyncgroup-plan")
    result.stdout.fnmatch_lines(
        ["serial, after all others, each alone: 1 test", "  test_serial.py::test_alone"]
    )
    assert not Path(suite.path / "events.jsonl").exists()


OUTGROWN = """
import pytest
from recorder import waiting

@pytest.mark.resource("orders")
@pytest.mark.parametrize("i", range(12))
async def test_orders(i):
    await waiting("t", 0.1, test=f"o{i}")

@pytest.mark.parametrize("i", range(4))
async def test_free(i):
    await waiting("t", 0.1, test=f"f{i}")
"""


def test_a_group_larger_than_a_workers_share_is_named_with_advice(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(test_outgrown=OUTGROWN)
    planned = suite.runpytest(DIST, "-n", "2", "--asyncgroup-plan")
    planned.stdout.fnmatch_lines(
        ["keys orders hold 75% of the estimated work, more than a worker's share (50%):*"]
    )
    result = suite.runpytest(DIST, "-n", "2")
    result.assert_outcomes(passed=16)
    ran_on = {str(e["worker"]) for e in events(suite) if str(e["test"]).startswith("o")}
    assert len(ran_on) == 1  # the group ran on one worker, as planned
    result.stdout.fnmatch_lines(
        [
            "*= asyncgroup summary =*",
            "one group holds 75% of the run's estimated work, more than a worker's share"
            f" (50% of 2): keys orders, 12 tests; it ran for *s of the *s on {ran_on.pop()}",
            "  a group runs on one worker: *asyncgroup_per_worker = orders*split it*",
        ]
    )


@pytest.mark.parametrize("mode", MODES)
def test_no_group_is_named_when_its_key_is_per_worker_or_one_worker_runs_all(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(test_outgrown=OUTGROWN)
    if mode:
        write_ini(suite, "asyncgroup_per_worker = orders")
    result = suite.runpytest(DIST, *mode)
    result.assert_outcomes(passed=16)
    result.stdout.fnmatch_lines(["*= asyncgroup summary =*"])
    result.stdout.no_fnmatch_line("*estimated work*")
