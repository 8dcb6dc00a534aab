"""Ctrl-C and ``pytest.exit()`` stop a run as they stop plain pytest.

Plain pytest, interrupted: the phase a test was in makes no report, what it set
up is torn down, session fixtures too, and the run exits with status 2 after
the "KeyboardInterrupt" banner. Each run here is a subprocess in its own
session; SIGINT goes to its whole process group, as a terminal sends it, once
the inner tests have started (they write marker files). The inner tests wait
far longer than the hang guard, so a run that ends at all was interrupted.

README: "Ctrl-C and pytest.exit()".
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..conftest import write_ini

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

HANG_GUARD = 60  # seconds, for the whole run after the signal

# The inner suites' fixtures: each leaves a marker file as it sets up or tears down.
MARKING = """
import asyncio, os
from pathlib import Path

import pytest

MARKS = Path(__file__).parent / "marks"


@pytest.fixture(scope="session")
def mark():
    return lambda name: (MARKS / name).touch()


@pytest.fixture(scope="session")
def service(mark):
    mark(f"service-up-{os.getpid()}")
    yield
    mark(f"service-down-{os.getpid()}")


@pytest.fixture
async def connection(request, mark):
    yield
    await asyncio.sleep(0)
    mark(f"closed-{request.node.name}")
"""

SUITE = """
import asyncio

import pytest


def test_first():
    pass


@pytest.mark.parametrize("i", range(6))
async def test_waits(service, connection, mark, i):
    mark(f"started-{i}")
    await asyncio.sleep(3600)
"""

SYNC_SUITE = """
import time

import pytest


@pytest.fixture
def connection(request, mark):
    yield
    mark(f"closed-{request.node.name}")


def test_blocks(service, connection, mark):
    mark("started-blocking")
    time.sleep(3600)
"""


def write_suite(pytester: pytest.Pytester, module: str, conftest: str = "") -> None:
    write_ini(pytester, "asyncio_mode = auto")
    pytester.makeconftest(MARKING + conftest)
    pytester.makepyfile(test_interrupt=module)


def interrupted_run(
    pytester: pytest.Pytester, started: int, *args: str
) -> tuple[int, str, list[str]]:
    """Run pytest, send SIGINT once ``started`` tests have begun; exit status,
    output, and the marker files written."""
    marks = pytester.path / "marks"
    marks.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", *args],
        cwd=pytester.path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + HANG_GUARD
        while len(list(marks.glob("started-*"))) < started:
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.communicate()[0].decode()
                pytest.fail(f"the inner tests did not start:\n{output}")
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)
        output = process.communicate(timeout=HANG_GUARD)[0].decode()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    return process.returncode, output, sorted(path.name for path in Path(marks).iterdir())


def assert_interrupted_like_plain_pytest(status: int, output: str) -> None:
    assert status == pytest.ExitCode.INTERRUPTED, output
    assert "KeyboardInterrupt" in output, output
    assert "CancelledError" not in output, output
    last = output.strip().splitlines()[-1]
    assert "failed" not in last, output
    assert "error" not in last, output


@pytest.mark.parametrize("args", [[], ["-n", "0"]], ids=["no -n", "-n 0"])
def test_ctrl_c_stops_tests_in_flight_and_tears_everything_down(
    pytester: pytest.Pytester, args: list[str]
) -> None:
    write_suite(pytester, SUITE)
    status, output, marks = interrupted_run(pytester, 6, "--dist=asyncgroup", *args)
    assert_interrupted_like_plain_pytest(status, output)
    assert "1 passed" in output.strip().splitlines()[-1], output  # what finished is kept
    assert "6 tests cut short (Ctrl-C, pytest.exit(), a crash): counted" in output, output
    assert "main: 7 tests, peak 6 in flight" in output, output  # they were all in flight
    # Each interrupted test's own fixture, then the session's, were torn down.
    assert [m for m in marks if m.startswith("closed-")] == [
        f"closed-test_waits[{i}]" for i in range(6)
    ], output
    assert len([m for m in marks if m.startswith("service-down-")]) == 1, (marks, output)


def test_an_interrupted_test_leaves_no_partial_duration_for_the_next_plan(
    pytester: pytest.Pytester,
) -> None:
    write_suite(pytester, SUITE)
    status, output, _ = interrupted_run(pytester, 6, "--dist=asyncgroup")
    assert status == pytest.ExitCode.INTERRUPTED, output
    cache = pytester.path / ".pytest_cache" / "v" / "asyncgroup" / "durations"
    assert list(json.loads(cache.read_text())) == ["test_interrupt.py::test_first"]


def test_ctrl_c_interrupts_a_sync_test_where_it_is(pytester: pytest.Pytester) -> None:
    write_suite(pytester, SYNC_SUITE)
    status, output, marks = interrupted_run(pytester, 1, "--dist=asyncgroup")
    assert_interrupted_like_plain_pytest(status, output)
    assert "no tests ran" in output, output
    assert "closed-test_blocks" in marks, output
    assert len([m for m in marks if m.startswith("service-down-")]) == 1, (marks, output)


# Where each report is made (in the worker), whether or not the controller shows it.
WORKER_REPORTS = """

def pytest_runtest_logreport(report):
    with (Path(__file__).parent / "reports.txt").open("a") as fh:
        fh.write(f"{report.nodeid} {report.when} {report.outcome}\\n")
"""


def test_ctrl_c_under_xdist_tears_down_on_every_worker(pytester: pytest.Pytester) -> None:
    write_suite(pytester, SUITE, WORKER_REPORTS)
    status, output, marks = interrupted_run(pytester, 6, "-n", "2", "--dist=asyncgroup")
    assert_interrupted_like_plain_pytest(status, output)
    made = (pytester.path / "reports.txt").read_text().splitlines()
    assert not [line for line in made if line.endswith("failed")], made  # none failed in a worker
    assert [m for m in marks if m.startswith("closed-")] == [
        f"closed-test_waits[{i}]" for i in range(6)
    ], output
    ups = {m.removeprefix("service-up-") for m in marks if m.startswith("service-up-")}
    downs = {m.removeprefix("service-down-") for m in marks if m.startswith("service-down-")}
    assert len(ups) == 2, (marks, output)
    assert downs == ups, (marks, output)


FAILING_TEARDOWN = """
import asyncio

import pytest


@pytest.fixture
async def connection(request):
    yield
    raise RuntimeError(f"{request.node.name} would not close")


@pytest.mark.parametrize("i", range(2))
async def test_waits(connection, mark, i):
    mark(f"started-{i}")
    await asyncio.sleep(3600)
"""


def test_errors_tearing_down_after_ctrl_c_are_all_kept_for_full_trace(
    pytester: pytest.Pytester,
) -> None:
    write_suite(pytester, FAILING_TEARDOWN)
    status, output, _ = interrupted_run(pytester, 2, "--dist=asyncgroup", "--full-trace")
    assert status == pytest.ExitCode.INTERRUPTED, output
    assert "errors tearing down fixtures after the run (2 sub-exceptions)" in output, output
    for i in range(2):
        assert f"RuntimeError: test_waits[{i}] would not close" in output, output


EXIT_SUITE = """
import asyncio
from pathlib import Path

import pytest


@pytest.mark.parametrize("i", range(4))
async def test_waits(service, connection, mark, i):
    mark(f"started-{i}")
    if i == 2:
        marks = Path(__file__).parent / "marks"
        while len(list(marks.glob("started-*"))) < 4:  # the others are in flight
            await asyncio.sleep(0.01)
        pytest.exit("the service is gone", returncode=3)
    await asyncio.sleep(3600)
"""


def exit_run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, list[str]]:
    write_suite(pytester, EXIT_SUITE)
    (pytester.path / "marks").mkdir()
    result = pytester.runpytest_subprocess("--dist=asyncgroup", *args, timeout=HANG_GUARD)
    return result, sorted(path.name for path in (pytester.path / "marks").iterdir())


def test_pytest_exit_in_one_process_ends_the_run_as_in_plain_pytest(
    pytester: pytest.Pytester,
) -> None:
    result, marks = exit_run(pytester)
    output = result.stdout.str()
    assert result.ret == 3, output
    assert "Exit: the service is gone" in output, output
    assert "CancelledError" not in output, output
    assert "no tests ran" in output, output  # the others were stopped, as at Ctrl-C
    assert [m for m in marks if m.startswith("closed-")] == [
        f"closed-test_waits[{i}]" for i in range(4)
    ]
    assert len([m for m in marks if m.startswith("service-down-")]) == 1, marks


def test_pytest_exit_on_a_worker_stops_every_worker(pytester: pytest.Pytester) -> None:
    result, marks = exit_run(pytester, "-n", "2")
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED, output  # xdist's "Interrupted"
    assert "pytest.exit() on gw" in output, output
    assert ": the service is gone" in output, output
    assert [m for m in marks if m.startswith("closed-")] == [
        f"closed-test_waits[{i}]" for i in range(4)
    ]
    ups = {m.removeprefix("service-up-") for m in marks if m.startswith("service-up-")}
    downs = {m.removeprefix("service-down-") for m in marks if m.startswith("service-down-")}
    assert len(ups) == 2, marks
    assert downs == ups, marks


def test_a_sigint_handler_a_test_installs_is_kept_as_in_plain_pytest(
    pytester: pytest.Pytester,
) -> None:
    """The engine's own handler is in place only while tests run; a handler a
    test installs meanwhile stays after the run."""
    write_ini(pytester)
    pytester.makepyfile(
        """
        import signal

        def test_installs_its_own_handler():
            signal.signal(signal.SIGINT, signal.SIG_IGN)

        def test_sees_it():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        """
    )
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = pytester.runpytest_inprocess("--dist=asyncgroup")
        result.assert_outcomes(passed=2)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
