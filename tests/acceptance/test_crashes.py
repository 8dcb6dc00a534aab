"""A crashing worker loses no result.

README: "Across workers".
"""

from __future__ import annotations

import pytest

from ..conftest import events
from .xdist_runs import DIST, final_outcomes, reports, run

CRASH_SUITE = """
import asyncio, os
import pytest
from recorder import waiting

@pytest.mark.resource("k")
@pytest.mark.parametrize("i", range(4))
async def test_in_flight(i):
    await asyncio.sleep(0.5 + 0.1 * i)
    if i == 0:
        os._exit(1)  # the worker dies while test_in_flight[1-3] still wait

@pytest.mark.resource("k", exclusive=True)
async def test_not_started():
    await waiting("t", 0, test="not_started")

@pytest.mark.parametrize("i", range(4))
async def test_elsewhere(i):
    await asyncio.sleep(0.1)
"""


@pytest.mark.parametrize(
    "args",
    [["-n", "2"], ["-n", "2", "--max-worker-restart", "0"], ["-n", "1"], ["-n", "3"]],
    ids=["restarts", "no-restarts", "one-worker", "three-workers"],
)
def test_a_crash_loses_no_test(logged: pytest.Pytester, args: list[str]) -> None:
    logged.makepyfile(CRASH_SUITE)
    result = run(logged, *args, DIST, "-rf")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    finals = final_outcomes(logged)
    name = "test_a_crash_loses_no_test.py"
    expected = (
        [f"{name}::test_in_flight[{i}]" for i in range(4)]
        + [f"{name}::test_not_started"]
        + [f"{name}::test_elsewhere[{i}]" for i in range(4)]
    )
    assert sorted(finals) == sorted(expected)
    assert all(len(outcomes) == 1 for outcomes in finals.values()), finals
    for i in range(4):
        assert finals[f"{name}::test_in_flight[{i}]"] == ["failed"]
    # The test that had not started ran after all (elsewhere or on the replacement).
    assert finals[f"{name}::test_not_started"] == ["passed"]
    assert [e["test"] for e in events(logged)] == ["not_started"]
    assert all(finals[f"{name}::test_elsewhere[{i}]"] == ["passed"] for i in range(4))
    crashed = [r["longrepr"] for r in reports(logged) if r["when"] == "???"]
    assert len(crashed) == 4
    assert all("crashed while running" in text for text in crashed)


def test_a_test_that_ends_just_before_a_crash_keeps_its_result(logged: pytest.Pytester) -> None:
    # A worker sends a passing test's events together when it completes. Here
    # test_a completes, and test_b kills the worker in the same pass of the loop.
    logged.makepyfile(
        """
        import asyncio, os

        gate = None

        def opened():
            global gate
            gate = gate or asyncio.Event()
            return gate

        async def test_a_passes():
            await opened().wait()

        async def test_b_kills_the_worker():
            await opened().wait()
            os._exit(1)

        async def test_c_opens_the_gate():
            await asyncio.sleep(0.2)
            opened().set()  # wakes test_a, then test_b, in one pass
        """
    )
    result = run(logged, "-n", "1", "--max-worker-restart", "0", DIST)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    name = "test_a_test_that_ends_just_before_a_crash_keeps_its_result.py"
    assert final_outcomes(logged) == {
        f"{name}::test_a_passes": ["passed"],
        f"{name}::test_b_kills_the_worker": ["failed"],
        f"{name}::test_c_opens_the_gate": ["passed"],
    }


def test_a_crash_with_no_worker_left_reports_what_did_not_run(logged: pytest.Pytester) -> None:
    logged.makepyfile(CRASH_SUITE)
    result = run(logged, "-n", "1", "--max-worker-restart", "0", DIST)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    finals = final_outcomes(logged)
    assert finals[
        "test_a_crash_with_no_worker_left_reports_what_did_not_run.py::test_not_started"
    ] == ["failed"]
    result.stdout.fnmatch_lines(["*not run: worker 'gw0' crashed before this test started*"])
    assert len(finals) == 9
    assert all(len(outcomes) == 1 for outcomes in finals.values())


@pytest.mark.parametrize("alone", [False, True], ids=["overlapping", "alone"])
def test_a_test_that_kills_the_worker_in_its_first_step_is_the_one_reported(
    logged: pytest.Pytester, alone: bool
) -> None:
    # A worker holds a test's start and sends it with other events; it must be
    # out before the test's own code runs, or the crash is pinned on no test and
    # the test that caused it runs again elsewhere.
    mark = "@pytest.mark.serial" if alone else ""
    logged.makepyfile(
        f"""
        import asyncio, os
        import pytest

        @pytest.fixture
        def dies():
            with open("ran.txt", "a") as out:
                out.write("ran\\n")
            os._exit(1)

        {mark}
        async def test_a_passes():
            await asyncio.sleep(0.2)

        {mark}
        async def test_b_dies_in_setup(dies):
            pass
        """
    )
    result = run(logged, "-n", "1", "--max-worker-restart", "1", DIST, "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    name = "test_a_test_that_kills_the_worker_in_its_first_step_is_the_one_reported.py"
    finals = final_outcomes(logged)
    assert finals[f"{name}::test_b_dies_in_setup"] == ["failed"]
    assert (logged.path / "ran.txt").read_text().splitlines() == ["ran"]  # not run again
    crashed = [r for r in reports(logged) if r["nodeid"] == f"{name}::test_b_dies_in_setup"]
    assert [r["when"] for r in crashed] == ["???"]
    assert "crashed while running" in crashed[0]["longrepr"]
