"""A SIGINT or SIGTERM handler a test installs is that test's own.

uvicorn's server installs its handlers for SIGINT and SIGTERM while it serves
and puts back, when it stops, the ones it found. Servers of overlapping tests
stop in another order than they started, so the last to stop put back the
handler of one already stopped: after uvicorn's websocket tests every process
that ran them (the one process, or both workers under ``-n 2``) had a dead
server's ``handle_exit`` for both signals, and Ctrl-C or SIGTERM no longer
stopped it.

Docs: concepts/event-loop.md, "Signal handlers".
"""

from __future__ import annotations

import pytest

DIST = "--dist=asyncgroup"
MODES = pytest.mark.parametrize("mode", [[], ["-n", "1"]], ids=["one-process", "n1"])

SERVERS = """
import asyncio, contextlib, os, signal
import pytest

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def capture_signals(seen):
    # uvicorn's Server.capture_signals: install, then put back what was there
    original = {sig: signal.signal(sig, lambda sig, frame: seen.append(sig)) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in original.items():
            signal.signal(sig, handler)


@pytest.mark.parametrize("seconds", [0.2, 0.4])
async def test_server(seconds):
    seen = []
    with capture_signals(seen):
        await asyncio.sleep(seconds)  # the first to start stops first
        signal.raise_signal(signal.SIGTERM)  # (uvicorn's tests raise theirs)
    assert seen == [signal.SIGTERM]


async def test_later():
    await asyncio.sleep(0.6)  # after both servers stopped
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
"""


@MODES
def test_handlers_overlapping_tests_install_and_put_back_are_their_own(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(test_servers=SERVERS)
    result = suite.runpytest_subprocess(DIST, *mode, "-p", "no:randomly", timeout=60)
    result.assert_outcomes(passed=3)


@MODES
def test_ctrl_c_stops_the_run_after_tests_put_back_handlers_out_of_order(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(
        test_servers=SERVERS
        + """

async def test_ctrl_c():
    await asyncio.sleep(0.8)
    os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C sends it
    await asyncio.sleep(5)
"""
    )
    result = suite.runpytest_subprocess(DIST, *mode, "-p", "no:randomly", timeout=60)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*eyboard*nterrupt*"])
