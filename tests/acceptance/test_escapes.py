"""What escapes a task a test started fails that test, and nothing else.

asyncio lets ``SystemExit`` and ``KeyboardInterrupt`` out of a task's step and
through the loop; here one loop runs every test of a worker. Plain
pytest-asyncio fails the test whose loop it went through (uvicorn's server task
calls ``sys.exit()`` when its port is taken).

README: "What escapes a task".
"""

from __future__ import annotations

import pytest

from ..conftest import write_ini

DIST = "--dist=asyncgroup"
MODES = pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["one-process", "n2"])

NEIGHBOURS = """
        @pytest.mark.parametrize("i", range(4))
        async def test_neighbour(i):
            await asyncio.sleep(0.3)
        """


@MODES
def test_system_exit_in_a_task_a_test_started_fails_that_test_only(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(
        """
        import asyncio, sys
        import pytest

        async def serve():
            await asyncio.sleep(0.05)
            sys.exit(3)  # the line the report shows

        async def test_server_task_exits():
            asyncio.get_running_loop().create_task(serve())
            await asyncio.sleep(0.2)
        """
        + NEIGHBOURS
    )
    result = suite.runpytest(DIST, *mode)
    result.assert_outcomes(passed=4, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*sys.exit(3)  # the line the report shows",
            "E*SystemExit: 3",
            "FAILED *test_server_task_exits*",
        ]
    )
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


@MODES
def test_keyboard_interrupt_raised_in_a_task_fails_that_test_only(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(
        """
        import asyncio
        import pytest

        async def interrupted():
            await asyncio.sleep(0.05)
            raise KeyboardInterrupt

        async def test_task_raises_keyboard_interrupt():
            asyncio.get_running_loop().create_task(interrupted())
            await asyncio.sleep(0.2)
        """
        + NEIGHBOURS
    )
    result = suite.runpytest(DIST, *mode)
    result.assert_outcomes(passed=4, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # not 2: the run was not interrupted
    result.stdout.fnmatch_lines(["*TaskInterrupted: KeyboardInterrupt raised in a task*"])


@MODES
def test_system_exit_in_a_fixture_s_task_fails_the_test_in_the_phase_it_is_in(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(
        test_phases="""
        import asyncio, sys
        import pytest

        async def exits_after(seconds):
            await asyncio.sleep(seconds)
            sys.exit(4)

        @pytest.fixture
        async def server_exits_during_setup():
            asyncio.get_running_loop().create_task(exits_after(0.01))
            await asyncio.sleep(0.2)
            yield

        @pytest.fixture
        async def server_exits_during_call():
            asyncio.get_running_loop().create_task(exits_after(0.05))
            yield

        async def test_setup_fails(server_exits_during_setup):
            pass

        async def test_call_fails(server_exits_during_call):
            await asyncio.sleep(0.2)
        """
        + NEIGHBOURS
    )
    result = suite.runpytest(DIST, *mode, "-rfE")
    result.assert_outcomes(passed=4, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "FAILED *test_call_fails - SystemExit: 4",
            "ERROR *test_setup_fails - SystemExit: 4",
        ],
    )


@MODES
def test_system_exit_from_a_task_cancelled_at_teardown_fails_that_teardown(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(
        test_left="""
        import asyncio, sys
        import pytest

        async def exits_when_cancelled():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                sys.exit(5)

        async def test_leaves_it_running():
            asyncio.get_running_loop().create_task(exits_when_cancelled())
            await asyncio.sleep(0.01)
        """
        + NEIGHBOURS
    )
    result = suite.runpytest(DIST, *mode, "-rfE")
    result.assert_outcomes(passed=5, errors=1)
    result.stdout.fnmatch_lines(["ERROR *test_leaves_it_running - SystemExit: 5"])


@MODES
def test_system_exit_in_a_task_that_outlives_its_test_fails_nothing(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    """A task started on a wider loop scope lives on after its test, as it would
    with pytest-asyncio's module loop; what escapes it then is logged."""
    write_ini(suite, "markers = asyncio: pytest-asyncio's marker, when it is not installed")
    suite.makepyfile(
        """
        import asyncio, logging, sys
        import pytest

        async def exits_later():
            await asyncio.sleep(0.1)
            sys.exit(6)

        @pytest.mark.asyncio(loop_scope="module")
        async def test_starts_it():
            asyncio.get_running_loop().create_task(exits_later())

        @pytest.mark.parametrize("i", range(4))
        async def test_neighbour(i):
            await asyncio.sleep(0.3)
        """
    )
    result = suite.runpytest(DIST, *mode)
    result.assert_outcomes(passed=5)
    assert result.ret == pytest.ExitCode.OK
