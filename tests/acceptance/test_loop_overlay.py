"""A test that patches the running loop patches it for itself alone.

README: "Patching the loop". The two reproductions are the janus and aiolimiter
cases: a queue woken through ``call_soon_threadsafe`` unless ``is_closed()``, and
a limiter reading ``loop.time()``, each beside tests that rely on the real methods.
"""

from __future__ import annotations

import pytest

from ..conftest import events, overlaps, peak_overlap, spans

DIST = "--dist=asyncgroup"
MODES = pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["one-process", "n2"])

JANUS_LIKE = """
import asyncio, threading
from unittest.mock import Mock, patch

import pytest
from recorder import span

class Queue:
    '''Woken from threads as janus wakes its async side: not once the loop is closed.'''

    def __init__(self):
        self.loop = asyncio.get_running_loop()
        self.ready = asyncio.Event()

    def notify(self):
        if self.loop.is_closed():
            return  # nothing to notify
        self.loop.call_soon_threadsafe(self.ready.set)

async def test_closed_loop_non_failing():
    loop = asyncio.get_running_loop()
    queue = Queue()
    gate = threading.Event()

    def notify_then_wait():  # the future completes once the patch is gone, as in janus
        queue.notify()
        gate.wait(10)

    async with span("t", test="patcher"):
        with patch.object(loop, "is_closed") as is_closed:
            is_closed.return_value = True
            await asyncio.sleep(0.2)
            queue.notify()
            by_executor = loop.run_in_executor(None, notify_then_wait)  # on the test's behalf
            by_thread = asyncio.ensure_future(asyncio.to_thread(notify_then_wait))
            while is_closed.call_count < 3:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            assert not queue.ready.is_set()
        gate.set()
        await by_executor
        await by_thread
    assert is_closed.call_count == 3
    assert "is_closed" not in vars(loop)
    assert not isinstance(loop.is_closed, Mock)

@pytest.mark.parametrize("i", range(6))
async def test_woken_from_a_thread(i):
    loop = asyncio.get_running_loop()
    queue = Queue()
    async with span("t", test=f"woken{i}"):
        await asyncio.sleep(0.05 * i)
        await loop.run_in_executor(None, queue.notify)
        threading.Thread(target=queue.notify).start()
        await asyncio.wait_for(queue.ready.wait(), 5)
        assert loop.is_closed() is False
"""

AIOLIMITER_LIKE = """
import asyncio, time
from unittest import mock

import pytest
from recorder import span

class Limiter:
    '''A leaky bucket as aiolimiter's: capacity drips out by loop.time().'''

    def __init__(self, rate):
        self.rate = rate
        self.level = 0.0
        self.loop = asyncio.get_running_loop()
        self.last = self.loop.time()

    def has_capacity(self):
        now = self.loop.time()
        self.level = max(self.level - (now - self.last) * self.rate, 0)
        self.last = now
        return self.level + 1 <= self.rate

    async def acquire(self):
        while not self.has_capacity():
            await asyncio.sleep(0.01)
        self.level += 1

@pytest.mark.parametrize("i", range(3))
async def test_mocked_time(i):
    loop = asyncio.get_running_loop()
    now = 0
    async with span("t", test=f"mocked{i}"):
        with mock.patch.object(loop, "time", lambda: now):
            limiter = Limiter(2)
            await limiter.acquire()
            await limiter.acquire()
            assert not limiter.has_capacity()
            # real time passes (a timer would not fire: the faked clock is still)
            started = time.perf_counter()
            while time.perf_counter() - started < 0.2:
                await asyncio.sleep(0)
            assert not limiter.has_capacity()
            now = 1
            assert limiter.has_capacity()
            assert loop.time() == 1

@pytest.mark.parametrize("i", range(3))
async def test_monkeypatched_time(monkeypatch, i):
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "time", lambda: 1000.0 + i)
    assert loop.time() == 1000.0 + i
    loop.slow_callback_duration = 5.0 + i  # plain assignment: the test's alone too
    for _ in range(50):  # no timers: on a loop of its own, a frozen clock never fires them
        await asyncio.sleep(0)
    assert loop.slow_callback_duration == 5.0 + i
    assert loop.time() == 1000.0 + i

@pytest.mark.parametrize("i", range(4))
async def test_real_time(i):
    loop = asyncio.get_running_loop()
    async with span("t", test=f"real{i}"):
        start = loop.time()
        await asyncio.sleep(0.1)
        assert 0.09 < loop.time() - start < 60
        assert loop.slow_callback_duration == 0.1
"""


@MODES
def test_a_patched_is_closed_is_seen_by_its_test_alone(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(test_janus_like=JANUS_LIKE)
    result = suite.runpytest_subprocess(DIST, *mode, timeout=60)
    result.assert_outcomes(passed=7)
    by_test = {str(e["test"]): (float(e["start"]), float(e["end"])) for e in events(suite)}  # type: ignore[arg-type]
    patcher = by_test.pop("patcher")
    # the patching test overlapped tests that were woken meanwhile
    assert any(overlaps(patcher, woken) for woken in by_test.values())
    if not mode:
        assert peak_overlap(spans(suite)) >= 5


@MODES
def test_a_patched_loop_time_is_seen_by_its_test_alone(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(test_limiter_like=AIOLIMITER_LIKE)
    result = suite.runpytest_subprocess(DIST, *mode, timeout=60)
    result.assert_outcomes(passed=10)
    if not mode:
        assert peak_overlap(spans(suite)) >= 6


def test_outcomes_are_those_of_a_plain_run(suite: pytest.Pytester) -> None:
    """The same two suites under pytest-asyncio's loop per test: the same outcomes."""
    pytest.importorskip("pytest_asyncio")
    suite.makepyfile(test_janus_like=JANUS_LIKE, test_limiter_like=AIOLIMITER_LIKE)
    plain = suite.runpytest_subprocess(
        "-p", "no:pytest_asyncgroup", "-o", "asyncio_mode=auto", timeout=60
    )
    plain.assert_outcomes(passed=17)


def test_wider_fixtures_patch_the_loop_for_every_test(suite: pytest.Pytester) -> None:
    """A module fixture's patch outlives the test that set it up: every test sees it,
    as every test of the module would see it on a module-scoped loop."""
    pytest.importorskip("pytest_asyncio")
    suite.makepyfile(
        """
        import asyncio
        from unittest import mock
        import pytest
        import pytest_asyncio

        @pytest_asyncio.fixture(scope="module", loop_scope="session")
        async def slow_callbacks():
            loop = asyncio.get_running_loop()
            with mock.patch.object(loop, "slow_callback_duration", 7.0):
                yield
            assert loop.slow_callback_duration == 0.1

        @pytest.mark.parametrize("i", range(4))
        @pytest.mark.asyncio(loop_scope="session")
        async def test_sees_it(slow_callbacks, i):
            await asyncio.sleep(0.02 * i)
            assert asyncio.get_running_loop().slow_callback_duration == 7.0

        @pytest.mark.asyncio(loop_scope="session")
        async def test_after_the_module():
            pass
        """
    )
    suite.runpytest_subprocess(DIST, timeout=60).assert_outcomes(passed=5)


def test_a_test_that_leaves_a_patch_set_leaves_it_for_itself(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import asyncio
        import pytest

        async def test_leaves_it():
            loop = asyncio.get_running_loop()
            loop.is_closed = lambda: True  # never undone
            loop.call_exception_handler = None
            del loop.call_exception_handler  # the class's again, for this test
            with pytest.raises(AttributeError):
                del loop.call_exception_handler
            await asyncio.sleep(0.2)
            assert loop.is_closed()
            assert loop.call_exception_handler.__func__ is type(loop).call_exception_handler

        @pytest.mark.parametrize("i", range(3))
        async def test_beside_it(i):
            loop = asyncio.get_running_loop()
            await asyncio.sleep(0.05)
            assert not loop.is_closed()
            assert "is_closed" not in vars(loop)

        async def test_after_it():
            await asyncio.sleep(0.3)
            assert not asyncio.get_running_loop().is_closed()
        """
    )
    suite.runpytest_subprocess(DIST, timeout=60).assert_outcomes(passed=5)
