"""``-x`` and ``--maxfail`` stop every worker.

README: "Across workers".
"""

from __future__ import annotations

import pytest

from .xdist_runs import DIST, reports, run


@pytest.mark.parametrize("maxfail", [["-x"], ["--maxfail", "2"]])
def test_exitfirst_cancels_in_flight_tests_on_every_worker(
    logged: pytest.Pytester, maxfail: list[str]
) -> None:
    logged.makepyfile(
        """
        import asyncio
        import pytest

        @pytest.mark.resource("a")
        async def test_fails():
            await asyncio.sleep(0.2)
            assert False

        @pytest.mark.resource("a")
        async def test_fails_too():
            await asyncio.sleep(0.3)
            assert False

        @pytest.mark.parametrize("i", range(40))
        async def test_slow(i):
            await asyncio.sleep(60)
        """
    )
    result = run(logged, "-n", "2", DIST, *maxfail, "--asyncgroup-concurrency=5")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # as plain xdist's -x
    cancelled = [r for r in reports(logged) if "cancelled by pytest-asyncgroup" in r["longrepr"]]
    started = {r["nodeid"] for r in reports(logged) if r["when"] == "setup"}
    # Each worker had 5 in flight; nothing else started, and the run did not
    # wait for the 60 s sleeps. -x cancels test_fails_too; under --maxfail 2 the
    # slot test_fails left was refilled once before test_fails_too failed.
    assert len(started) == (10 if maxfail == ["-x"] else 11)
    failed_alone = {"test_fails"} if maxfail == ["-x"] else {"test_fails", "test_fails_too"}
    assert {r["nodeid"] for r in cancelled} == {
        nodeid for nodeid in started if nodeid.rsplit("::", 1)[1] not in failed_alone
    }
    result.stdout.fnmatch_lines([f"*stopping after {1 if maxfail == ['-x'] else 2} failures*"])
    assert result.duration < 30


def test_exitfirst_reaches_a_worker_running_sync_tests_one_after_another(
    logged: pytest.Pytester,
) -> None:
    # The "a" group (sync tests that run alone, for capfd, one after another) and "b"
    # test go to different workers. "b" fails once the sync tests are under way;
    # the stop must reach their worker between two of them, not after all 200.
    logged.makepyfile(
        """
        import asyncio, time
        from pathlib import Path
        import pytest

        STARTED = Path(__file__).parent / "sync-started"

        @pytest.mark.resource("a")
        @pytest.mark.parametrize("i", range(200))
        def test_sync(capfd, i):
            STARTED.touch()
            time.sleep(0.01)

        @pytest.mark.resource("b")
        async def test_fails():
            while not STARTED.exists():
                await asyncio.sleep(0.01)
            assert False
        """
    )
    result = run(logged, "-n", "2", DIST, "-x")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1
    assert outcomes.get("passed", 0) < 150  # all 200 take 2 s; a stop lands within a few
    result.stdout.fnmatch_lines(["*stopping after 1 failures*"])
