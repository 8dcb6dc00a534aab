"""Tests on uvloop: the worker's loop made by pytest-asyncio's loop factory hook.

uvloop's ``Loop`` is a Cython class under a Python subclass; these tests check
that what the engine does to the worker's loop (the per-test overlay's class
swap, the task factory, ``call_soon_threadsafe`` from other threads, the
bridged ``run_until_complete``, the refused ``stop``, timeouts by cancellation
and by ``SIGALRM``, Ctrl-C) works on it. docs/how-to/uvloop.md.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator

import pytest

from ..conftest import events, peak_overlap, spans, write_ini
from .test_interrupt import MARKING, SUITE, assert_interrupted_like_plain_pytest, interrupted_run

# Imported here, before any inner run, so pytester's in-process runs share it.
uvloop = pytest.importorskip("uvloop", reason="uvloop is not installed")
try:
    import pytest_asyncio.plugin

    FACTORIES = hasattr(pytest_asyncio.plugin, "_collect_hook_loop_factories")
except ImportError:
    FACTORIES = False
needs_factories = pytest.mark.skipif(
    not FACTORIES, reason="needs pytest-asyncio 1.4+ (pytest_asyncio_loop_factories)"
)

DIST = "--dist=asyncgroup"
MODES = pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["one-process", "n2"])


@pytest.fixture(autouse=True)
def _policy_restored() -> Iterator[None]:
    """An inner run in this process that sets uvloop's policy would leave it set
    for the inner runs of every later test here."""
    policy = asyncio.get_event_loop_policy()
    yield
    asyncio.set_event_loop_policy(policy)


HOOK = """
import uvloop

def pytest_asyncio_loop_factories(config, item):
    return {"uvloop": uvloop.new_event_loop}
"""

POLICY = """
import asyncio
import uvloop

asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
"""

OVERLAPPING = """
import asyncio
import time

import pytest
import pytest_asyncio
import uvloop
from recorder import log

def describe(loop):
    return {"uvloop": isinstance(loop, uvloop.Loop), "module": type(loop).__module__,
            "name": type(loop).__name__, "exact": type(loop) is uvloop.Loop}

@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def session_loop():
    return describe(asyncio.get_running_loop())

@pytest.mark.asyncio
@pytest.mark.parametrize("i", range(4))
async def test_overlapping(session_loop, i):
    start = time.perf_counter()
    await asyncio.sleep(0.2)
    log("t", start, time.perf_counter(), loop=describe(asyncio.get_running_loop()),
        session=session_loop)

def test_sync():
    log("sync", 0, 0, loop=describe(asyncio.get_event_loop()))
"""


@needs_factories
@MODES
@pytest.mark.parametrize("how", ["hook", "policy"])
def test_overlapping_tests_and_a_session_fixture_run_on_uvloop(
    suite: pytest.Pytester, mode: list[str], how: str
) -> None:
    suite.makeconftest(HOOK if how == "hook" else POLICY)
    suite.makepyfile(test_loops=OVERLAPPING)
    suite.runpytest(DIST, *mode).assert_outcomes(passed=5)
    assert peak_overlap(spans(suite, "t")) >= 2  # started and ended while others ran
    # While the tests run, the loop's class is a subclass of uvloop.Loop of the
    # same name and module (the per-test overlay, loop_overlay.py): isinstance
    # holds, ``type(loop) is uvloop.Loop`` does not (docs/how-to/uvloop.md).
    uv = {"uvloop": True, "module": "uvloop", "name": "Loop", "exact": False}
    for event in events(suite):
        assert event["loop"] == uv, event
        if event["name"] == "t":
            assert event["session"] == uv, event


ENGINE = """
import asyncio
import threading
import time
import warnings
from unittest import mock

import pytest
import uvloop

LEFT = []

@pytest.fixture
def computed():
    # the older style: a sync fixture running a coroutine on the current loop
    loop = asyncio.get_event_loop()
    assert isinstance(loop, uvloop.Loop)
    return loop.run_until_complete(asyncio.sleep(0.01, result=42))

async def test_patches_the_loop_for_itself():
    loop = asyncio.get_running_loop()
    with mock.patch.object(loop, "is_closed", lambda: True):
        await asyncio.sleep(0.3)
        assert loop.is_closed()
    assert not loop.is_closed()

async def test_beside_sees_the_real_loop():
    await asyncio.sleep(0.1)
    assert not asyncio.get_running_loop().is_closed()

async def test_threads_call_back_into_the_loop(computed):
    loop = asyncio.get_running_loop()
    assert computed == 42
    done = loop.create_future()
    threading.Thread(target=loop.call_soon_threadsafe, args=(done.set_result, 7)).start()
    assert await done == 7
    assert await loop.run_in_executor(None, lambda: 8) == 8
    assert await asyncio.to_thread(lambda: 9) == 9

@pytest.mark.resource("left")  # on one worker under -n 2
async def test_1_leaves_a_task():
    LEFT.append(asyncio.get_running_loop().create_task(asyncio.sleep(3600)))

@pytest.mark.resource("left")
async def test_2_its_task_was_cancelled():
    await asyncio.sleep(0.5)
    assert LEFT[0].cancelled()

async def test_a_task_s_warning_is_the_test_s():
    async def warn():
        warnings.warn("from a task", UserWarning)
    with pytest.warns(UserWarning, match="from a task"):
        await asyncio.get_running_loop().create_task(warn())

async def test_system_exit_in_a_task_fails_this_test():
    async def exits():
        raise SystemExit(3)
    asyncio.get_running_loop().create_task(exits())
    await asyncio.sleep(1)

async def test_stopping_the_loop_fails_this_test():
    asyncio.get_running_loop().stop()

@pytest.mark.timeout(0.3)
async def test_times_out_awaiting():
    await asyncio.sleep(3600)

@pytest.mark.timeout(0.3)
async def test_times_out_blocking():
    time.sleep(30)

async def test_last():
    await asyncio.sleep(0.1)
"""


@needs_factories
@MODES
def test_the_engine_s_loop_machinery_works_on_uvloop(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    write_ini(suite, "asyncio_mode = auto")
    suite.makeconftest(HOOK)
    suite.makepyfile(test_engine=ENGINE)
    result = suite.runpytest(DIST, *mode, "-p", "no:timeout", "-W", "error::UserWarning")
    result.assert_outcomes(passed=7, failed=4)
    result.stdout.fnmatch_lines_random(
        [
            "FAILED test_engine.py::test_system_exit_in_a_task_fails_this_test - SystemExi*",
            "FAILED test_engine.py::test_stopping_the_loop_fails_this_test - RuntimeError*",
            "FAILED test_engine.py::test_times_out_awaiting - *Timeout*",
            "FAILED test_engine.py::test_times_out_blocking - *Timeout*",
        ]
    )


@needs_factories
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_the_tests_on_uvloop(pytester: pytest.Pytester) -> None:
    write_ini(pytester, "asyncio_mode = auto")
    pytester.makeconftest(MARKING + HOOK)
    pytester.makepyfile(test_interrupt=SUITE)
    status, output, marks = interrupted_run(pytester, 6, DIST)
    assert_interrupted_like_plain_pytest(status, output)
    assert [m for m in marks if m.startswith("closed-")] == [
        f"closed-test_waits[{i}]" for i in range(6)
    ], output
    assert len([m for m in marks if m.startswith("service-down-")]) == 1, (marks, output)


def test_without_pytest_asyncio_a_policy_set_at_import_gives_uvloop(
    suite: pytest.Pytester,
) -> None:
    """Without pytest-asyncio there is no factory hook (pytest refuses the unknown
    hook); the policy in force when the run starts makes the worker's loop."""
    suite.makeconftest(POLICY)
    suite.makepyfile(
        test_plain="""
        import asyncio
        import time

        import pytest
        import uvloop
        from recorder import log

        @pytest.mark.parametrize("i", range(3))
        async def test_plain(i):
            start = time.perf_counter()
            await asyncio.sleep(0.2)
            loop = asyncio.get_running_loop()
            log("t", start, time.perf_counter(), uvloop=isinstance(loop, uvloop.Loop))
        """
    )
    suite.runpytest(DIST, "-p", "no:asyncio").assert_outcomes(passed=3)
    assert peak_overlap(spans(suite, "t")) == 3
    assert all(event["uvloop"] for event in events(suite))
