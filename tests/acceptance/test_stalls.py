"""A stalled run says where it waits (README: "Seeing the run").

A test awaiting an event nobody sets waits silently: its task is not running,
so pytest's ``faulthandler_timeout`` would show only the idle loop.
"""

from __future__ import annotations

import pytest

DIST = "--dist=asyncgroup"

STUCK = """
import asyncio
import pytest

async def wait_for_the_event():
    event = asyncio.Event()
    asyncio.get_running_loop().call_later(3, event.set)  # no step of any test till then
    await event.wait()  # the line the report names

@pytest.fixture
def server():
    asyncio.get_event_loop().run_until_complete(asyncio.sleep(0))
    yield

async def test_stuck(server):
    await wait_for_the_event()

async def test_patches_the_loop():
    asyncio.get_running_loop().slow_callback_duration = 3.0

async def test_ends():
    await asyncio.sleep(0.1)
"""


def report_of(result: pytest.RunResult) -> str:
    text = "\n".join(result.outlines + result.errlines)
    assert "has made progress for 1s (asyncgroup_stall_report)" in text, text
    assert text.count("has made progress") == 1, text  # once per stall
    return text[text.index("pytest-asyncgroup: no test on") :]


@pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["one-process", "n2"])
def test_a_stalled_run_names_the_stuck_tests_and_the_line_they_wait_on(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(test_stuck=STUCK)
    result = suite.runpytest_subprocess(DIST, *mode, "-o", "asyncgroup_stall_report=1", timeout=60)
    result.assert_outcomes(passed=3)  # the report fails nothing
    report = report_of(result)
    where = "the main process" if not mode else "gw"
    assert report.startswith(f"pytest-asyncgroup: no test on {where}")
    assert "1 test in flight:" in report
    assert "test_stuck.py::test_stuck (call, for " in report
    lines = report.splitlines()
    in_test = lines.index(next(line for line in lines if "in test_stuck" in line))
    assert "await wait_for_the_event()" in lines[in_test + 1]
    assert "in wait_for_the_event" in lines[in_test + 2]
    assert "await event.wait()  # the line the report names" in lines[in_test + 3]
    assert "locks.py" in lines[in_test + 4]  # down into asyncio's Event.wait
    assert any(line.strip().startswith("waiting on <Future pending") for line in lines)
    if not mode:  # (under -n 2 it may have run on the other worker)
        assert (
            "test_stuck.py::test_patches_the_loop: set or deleted loop.slow_callback_duration"
            in report
        )


def test_a_test_polling_for_what_never_comes_is_reported(suite: pytest.Pytester) -> None:
    """uvicorn's shutdown, having missed a connection, polls ``while connections:
    await asyncio.sleep(0.1)`` for ever: its task wakes, but its test never moves on."""
    suite.makepyfile(
        test_polls="""
        import asyncio

        async def test_shutdown():
            done = asyncio.Event()
            asyncio.get_running_loop().call_later(3, done.set)
            while not done.is_set():
                await asyncio.sleep(0.05)  # the poll the report names
        """,
    )
    result = suite.runpytest_subprocess(DIST, "-o", "asyncgroup_stall_report=1", timeout=60)
    result.assert_outcomes(passed=1)
    report = report_of(result)
    assert "test_polls.py::test_shutdown (call, for " in report
    assert "await asyncio.sleep(0.05)  # the poll the report names" in report


def test_a_poll_in_an_async_context_manager_s_exit_is_reported_where_it_polls(
    suite: pytest.Pytester,
) -> None:
    """uvicorn's tests stop their server on leaving ``async with run_server(...)``
    (an ``asynccontextmanager``): the chain goes on from ``__aexit__``'s
    ``await anext(self.gen)`` into the generator, down to the poll."""
    suite.makepyfile(
        test_exits="""
        import asyncio, contextlib

        async def shutdown(done):
            while not done.is_set():
                await asyncio.sleep(0.05)  # the poll the report names

        @contextlib.asynccontextmanager
        async def run_server():
            done = asyncio.Event()
            asyncio.get_running_loop().call_later(3, done.set)
            yield
            await shutdown(done)

        async def test_server():
            async with run_server():
                pass
        """,
    )
    result = suite.runpytest_subprocess(DIST, "-o", "asyncgroup_stall_report=1", timeout=60)
    result.assert_outcomes(passed=1)
    report = report_of(result)
    lines = report.splitlines()
    exit_at = lines.index(next(line for line in lines if "in __aexit__" in line))
    assert "in run_server" in lines[exit_at + 2]
    assert "await shutdown(done)" in lines[exit_at + 3]
    assert "in shutdown" in lines[exit_at + 4]
    assert "await asyncio.sleep(0.05)  # the poll the report names" in lines[exit_at + 5]


def test_no_report_when_turned_off_or_when_tests_make_progress(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_busy="""
        import asyncio, pytest

        @pytest.mark.parametrize("i", range(12))
        async def test_one_after_another(i):
            await asyncio.sleep(0.25 * i)  # one ends every 0.25 s
        """,
    )
    result = suite.runpytest_subprocess(DIST, "-o", "asyncgroup_stall_report=1", timeout=60)
    result.assert_outcomes(passed=12)
    assert "has made progress" not in result.stdout.str() + result.stderr.str()
    suite.makepyfile(test_stuck=STUCK)
    result = suite.runpytest_subprocess(DIST, "-o", "asyncgroup_stall_report=0", timeout=60)
    result.assert_outcomes(passed=15)
    assert "has made progress" not in result.stdout.str() + result.stderr.str()


def test_a_bad_setting_is_a_usage_error(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_one="def test_one(): pass")
    result = suite.runpytest_subprocess(DIST, "-o", "asyncgroup_stall_report=soon")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*asyncgroup_stall_report: 'soon' is not a number of seconds*"])


def test_a_loop_blocked_in_synchronous_code_is_reported_with_where_it_blocks(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(
        test_blocks="""
        import time

        def test_sleeps():
            time.sleep(4)  # the line the report names
        """,
    )
    result = suite.runpytest_subprocess(DIST, "-o", "asyncgroup_stall_report=1", timeout=60)
    result.assert_outcomes(passed=1)
    report = report_of(result)
    assert "the loop is blocked, in synchronous code:" in report
    assert "time.sleep(4)  # the line the report names" in report
    assert "test_blocks.py::test_sleeps (call, for " in report
