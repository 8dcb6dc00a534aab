"""One report per test and phase, streamed; exit status.

README: "Output, logs and warnings".
"""

from __future__ import annotations

import pytest

from ..conftest import events

DIST = "--dist=asyncgroup"


def test_every_test_is_reported_once_per_phase_with_real_durations(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(
        """
        import asyncio
        import pytest

        @pytest.fixture
        async def slow_setup():
            await asyncio.sleep(0.1)

        @pytest.mark.parametrize("i", range(10))
        async def test_x(slow_setup, i):
            await asyncio.sleep(0.2)
            assert i != 3

        async def test_skipped():
            pytest.skip("not today")

        @pytest.mark.xfail(reason="known")
        async def test_xfail():
            assert False
        """
    )
    result = suite.runpytest(DIST)
    result.assert_outcomes(passed=9, failed=1, skipped=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    reports = suite.inline_run(DIST).getreports("pytest_runtest_logreport")
    seen = [(r.nodeid, r.when) for r in reports]
    assert len(seen) == len(set(seen)) == 12 * 3
    calls = [r for r in reports if r.when == "call" and "::test_x[" in r.nodeid]
    setups = [r for r in reports if r.when == "setup" and "::test_x[" in r.nodeid]
    assert all(0.19 < r.duration < 1.0 for r in calls)
    assert all(0.09 < r.duration < 1.0 for r in setups)


def test_reports_stream_as_tests_finish(suite: pytest.Pytester) -> None:
    suite.makeconftest(
        """
        import time
        from recorder import log

        def pytest_runtest_logreport(report):
            if report.when == "teardown":
                now = time.perf_counter()
                log("report:" + report.nodeid.split("::")[-1], now, now)
        """
    )
    suite.makepyfile(
        """
        import asyncio, time
        from recorder import log

        async def test_slow():
            await asyncio.sleep(0.5)
            now = time.perf_counter()
            log("slow body end", now, now)

        async def test_fast():
            await asyncio.sleep(0.01)
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=2)
    at = {e["name"]: e["start"] for e in events(suite)}
    assert at["report:test_fast"] < at["slow body end"]


def test_all_passing_exits_zero_and_no_tests_exits_five(suite: pytest.Pytester) -> None:
    suite.makepyfile("async def test_ok(): pass")
    assert suite.runpytest(DIST).ret == pytest.ExitCode.OK
    assert suite.runpytest(DIST, "-k", "nothing").ret == pytest.ExitCode.NO_TESTS_COLLECTED


EXITFIRST_SUITE = """
import asyncio
import pytest

async def test_fails_first():
    await asyncio.sleep(0.01)
    assert False

@pytest.mark.parametrize("i", range(20))
async def test_later(i):
    await asyncio.sleep(60)
"""


def test_exitfirst_cancels_tests_in_flight_and_starts_nothing_else(suite: pytest.Pytester) -> None:
    suite.makepyfile(EXITFIRST_SUITE)
    result = suite.runpytest(DIST, "-x", "--asyncgroup-concurrency=3", "-rf")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # The failing test and the two in flight beside it; the other 18 never start.
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*_ test_later[[]0[]] _*",
            "cancelled by pytest-asyncgroup: the run is stopping (stopping after 1 failures)",
            "*!! stopping after 1 failures !!*",
        ]
    )
    assert result.duration < 30  # a hang guard: the cancelled tests would sleep 60 s


def test_exitfirst_stops_a_row_of_sync_tests_at_the_failure(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("i", range(10))
        def test_sync(i):
            assert i != 3

        async def test_async_after():
            pass
        """
    )
    result = suite.runpytest(DIST, "-x")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*test_sync[[]3[]]*", "*stopping after 1 failures*"])


def test_collection_errors_stop_the_run_as_in_plain_pytest(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_ok="async def test_ok(): pass", test_broken="import nothing_here")
    result = suite.runpytest(DIST)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*1 error during collection*"])


def test_failure_text_matches_plain_pytest(suite: pytest.Pytester) -> None:
    pytest.importorskip("pytest_asyncio")
    suite.makepyfile(
        """
        import asyncio
        import pytest
        import pytest_asyncio

        @pytest_asyncio.fixture
        async def numbers():
            await asyncio.sleep(0.01)
            return [1, 2, 3]

        @pytest.mark.asyncio
        async def test_diff(numbers):
            await asyncio.sleep(0.01)
            assert {"a": 1, "b": numbers} == {"a": 1, "b": [1, 2, 4]}
        """
    )

    def failure_section(*args: str) -> list[str]:
        lines = suite.runpytest(*args).outlines
        start = next(i for i, line in enumerate(lines) if "_ test_diff _" in line)
        end = next(i for i, line in enumerate(lines) if i > start and line.startswith("="))
        return lines[start:end]

    ours = failure_section("--dist=asyncgroup")
    assert ours == failure_section()  # plain pytest-asyncio
    assert "E         {'b': [1, 2, 3]} != {'b': [1, 2, 4]}" in ours
