"""A test's timeout cancels that test only.

pytest-timeout's names (``@pytest.mark.timeout``, ``--timeout``, the ini
``timeout``, ``PYTEST_TIMEOUT``) work with pytest-timeout active and without it
(``-p no:timeout`` blocks it when installed; the oldest nox session lacks it).

README: "Timeouts".
"""

from __future__ import annotations

import pytest

from ..conftest import spans

DIST = "--dist=asyncgroup"
MODES = [pytest.param([], id="one-process"), pytest.param(["-n", "2"], id="n2")]
WITH_AND_WITHOUT_PYTEST_TIMEOUT = [
    pytest.param([], id="as-installed"),
    pytest.param(["-p", "no:timeout"], id="no-pytest-timeout"),
]

HANGING = """
import asyncio
import pytest
from recorder import span

@pytest.fixture
async def hangs_in_setup():
    await asyncio.sleep(30)
    yield

@pytest.fixture
async def hangs_in_teardown():
    yield
    await asyncio.sleep(30)

@pytest.mark.timeout(0.3)
async def test_call(hangs_in_teardown):
    await asyncio.sleep(30)

@pytest.mark.timeout(0.3)
async def test_setup(hangs_in_setup):
    pass

@pytest.mark.timeout(0.3)
async def test_teardown(hangs_in_teardown):
    pass

@pytest.mark.parametrize("i", range(4))
async def test_neighbour(i):
    async with span(f"neighbour{i}"):
        await asyncio.sleep(0.8)
"""


@pytest.mark.parametrize("plugin", WITH_AND_WITHOUT_PYTEST_TIMEOUT)
@pytest.mark.parametrize("mode", MODES)
def test_a_timeout_cancels_its_test_in_any_phase_and_leaves_the_others_running(
    suite: pytest.Pytester, mode: list[str], plugin: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # untruncated short summary lines
    suite.makepyfile(test_hanging=HANGING)
    result = suite.runpytest_subprocess(DIST, *mode, *plugin, "-rfE", timeout=60)
    result.assert_outcomes(passed=5, failed=1, errors=3)  # test_teardown: passed + error
    result.stdout.fnmatch_lines_random(
        [
            "FAILED *::test_call - Failed: Timeout (>0.3s) during call*",
            # test_call's fixture also hangs: its teardown gets as long again.
            "ERROR *::test_call - Failed: Timeout (>0.3s) during teardown*",
            "ERROR *::test_setup - Failed: Timeout (>0.3s) during setup*",
            "ERROR *::test_teardown - Failed: Timeout (>0.3s) during teardown*",
        ]
    )
    neighbours = spans(suite, "neighbour")
    assert len(neighbours) == 4
    assert all(end - start >= 0.79 for start, end in neighbours)


@pytest.mark.parametrize("plugin", WITH_AND_WITHOUT_PYTEST_TIMEOUT)
def test_default_timeout_from_option_ini_and_environment(
    suite: pytest.Pytester, plugin: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.makepyfile(
        test_default="""
        import asyncio
        import pytest

        async def test_slow():
            await asyncio.sleep(30)

        @pytest.mark.timeout(0)
        async def test_exempt():
            await asyncio.sleep(0.5)
        """
    )
    result = suite.runpytest_subprocess(DIST, *plugin, "--timeout", "0.2", timeout=60)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*Timeout (>0.2s) during call*"])

    result = suite.runpytest_subprocess(DIST, *plugin, "-o", "timeout=0.2", timeout=60)
    result.assert_outcomes(passed=1, failed=1)

    monkeypatch.setenv("PYTEST_TIMEOUT", "0.2")
    result = suite.runpytest_subprocess(DIST, *plugin, timeout=60)
    result.assert_outcomes(passed=1, failed=1)


def test_waiting_for_more_work_does_not_count_towards_a_timeout(
    suite: pytest.Pytester,
) -> None:
    # Two groups, one per worker: gw0's only test ends at once, then holds its
    # teardown (session fixtures) until the run ends, longer than its timeout.
    suite.makepyfile(
        test_hold="""
        import asyncio
        import pytest

        @pytest.fixture(scope="session")
        def shared():
            yield

        @pytest.mark.resource("a")
        @pytest.mark.timeout(0.3)
        async def test_quick(shared):
            pass

        @pytest.mark.resource("b")
        async def test_slow(shared):
            await asyncio.sleep(1.5)
        """
    )
    result = suite.runpytest_subprocess(DIST, "-n", "2", timeout=60)
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--timeout", "soon"], "--timeout: 'soon' is not a number of seconds >= 0"),
        (["-o", "timeout=-1"], "timeout (ini): '-1' is not a number of seconds >= 0"),
    ],
)
def test_a_bad_timeout_setting_is_a_usage_error(
    suite: pytest.Pytester, args: list[str], problem: str
) -> None:
    suite.makepyfile("async def test_x(): pass")
    result = suite.runpytest(DIST, "-p", "no:timeout", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{problem}*"])


@pytest.mark.parametrize(
    "mark", ["timeout('soon')", "timeout(-1)", "timeout()", "timeout(1, 2, 3, 4, 5)"]
)
def test_a_malformed_timeout_mark_stops_the_run_naming_the_test(
    suite: pytest.Pytester, mark: str
) -> None:
    suite.makepyfile(
        f"""
        import pytest

        @pytest.mark.{mark}
        async def test_bad():
            pass

        async def test_good():
            pass
        """
    )
    result = suite.runpytest(DIST, "-p", "no:timeout")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*problems found at collection, nothing was run*", "*::test_bad: *timeout*"]
    )
    result.stdout.no_fnmatch_line("*passed*")


def test_with_pytest_timeout_a_test_that_runs_alone_keeps_its_method(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sync test runs alone, so pytest-timeout's own signal method can stop it
    # even in synchronous code; the overlapping tests beside it are ours.
    pytest.importorskip("pytest_timeout")
    monkeypatch.setenv("COLUMNS", "200")  # untruncated short summary lines
    suite.makepyfile(
        test_alone="""
        import asyncio, time
        import pytest

        @pytest.mark.timeout(0.3)
        def test_sync_sleeps():
            time.sleep(30)

        @pytest.mark.timeout(0.3)
        async def test_async_sleeps():
            await asyncio.sleep(30)
        """
    )
    result = suite.runpytest_subprocess(DIST, "--timeout-method=signal", "-rf", timeout=60)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines_random(
        [
            "FAILED *::test_sync_sleeps - Failed: Timeout (>0.3s) from pytest-timeout*",
            "FAILED *::test_async_sleeps - Failed: Timeout (>0.3s) during call*",
        ]
    )


HOLDING = """
import asyncio, socket, time
import pytest
from recorder import sync_span

@pytest.fixture
def blocks():
    time.sleep(600)
    yield

@pytest.mark.timeout(0.3)
async def test_blocks_in_its_body():
    time.sleep(600)

@pytest.mark.timeout(0.3)
async def test_blocks_in_a_sync_fixture(blocks):
    pass

@pytest.mark.timeout(0.3)
def test_sync_blocks_reading_a_socket():
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    client.recv(1)

@pytest.mark.timeout(0.3)
async def test_waits_while_another_holds_the_loop():
    await asyncio.sleep(600)

async def test_holds_the_loop_without_a_timeout():
    await asyncio.sleep(0.05)
    with sync_span("holder"):
        time.sleep(1)  # past the other test's deadline: that is not this test's timeout

@pytest.mark.parametrize("i", range(3))
async def test_neighbour(i):
    await asyncio.sleep(0.2)
"""


@pytest.mark.parametrize("plugin", WITH_AND_WITHOUT_PYTEST_TIMEOUT)
@pytest.mark.parametrize("mode", MODES)
def test_a_timeout_stops_a_test_whose_code_holds_the_loop(
    suite: pytest.Pytester, mode: list[str], plugin: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hanging test is stopped by its timeout, even when it blocks the
    loop in synchronous code (before, the worker hung there): the timeout is
    raised where it blocks, and never in a test that has none."""
    monkeypatch.setenv("COLUMNS", "200")  # untruncated short summary lines
    suite.makepyfile(test_holding=HOLDING)
    result = suite.runpytest_subprocess(DIST, *mode, *plugin, "-rfE", timeout=60)
    result.assert_outcomes(passed=4, failed=3, errors=1)
    held = "pytest-asyncgroup interrupted the test's code, which held the loop"
    result.stdout.fnmatch_lines_random(
        [
            f"FAILED *::test_blocks_in_its_body - Failed: Timeout (>0.3s) during call: {held}",
            f"ERROR *::test_blocks_in_a_sync_fixture - Failed: Timeout (>0.3s) during setup: "
            f"{held}",
            "FAILED *::test_sync_blocks_reading_a_socket - Failed: Timeout (>0.3s)*",
            "FAILED *::test_waits_while_another_holds_the_loop - Failed: Timeout (>0.3s) "
            "during call: pytest-asyncgroup cancelled the test",
        ]
    )
    # The traceback ends where the test blocked.
    result.stdout.fnmatch_lines([">       time.sleep(600)", "E       Failed: Timeout*"])
    (holder,) = spans(suite, "holder")
    assert holder[1] - holder[0] >= 0.99
