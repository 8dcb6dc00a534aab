"""The worker's one event loop, and what tests and fixtures do with it.

README: "How it works".
"""

from __future__ import annotations

import gc
import json

import pytest

from pytest_asyncgroup._core.gcpause import YOUNG_WHILE_OVERLAPPING

from ..conftest import events, peak_overlap, spans

DIST = "--dist=asyncgroup"


@pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["one-process", "n2"])
def test_contextvars_set_by_fixtures_stay_with_their_test(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(
        """
        import asyncio, contextvars
        import pytest

        current = contextvars.ContextVar("current")
        current_async = contextvars.ContextVar("current_async")

        @pytest.fixture
        def who(request):
            token = current.set(request.node.name)
            yield
            current.reset(token)  # raises if another test's context is current

        @pytest.fixture
        async def who_async(request):
            token = current_async.set(request.node.name)
            await asyncio.sleep(0.02)
            yield
            await asyncio.sleep(0.02)
            assert current_async.get() == request.node.name
            current_async.reset(token)

        @pytest.mark.parametrize("i", range(10))
        async def test_sees_its_own(who, who_async, request, i):
            await asyncio.sleep(0.02)
            assert current.get() == current_async.get() == request.node.name
        """
    )
    suite.runpytest(DIST, *mode).assert_outcomes(passed=10)


@pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["one-process", "n2"])
def test_sync_tests_and_fixtures_run_with_no_loop_running(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    # As in a plain run: sync code may start a loop of its own (asgiref's
    # async_to_sync, unittest's IsolatedAsyncioTestCase, asyncio.run).
    suite.makepyfile(
        """
        import asyncio
        import unittest
        import pytest

        async def answer():
            await asyncio.sleep(0)
            return 42

        def test_asyncio_run_in_a_sync_test():
            assert asyncio.run(answer()) == 42

        def test_a_new_loop_in_a_sync_test():
            loop = asyncio.new_event_loop()
            try:
                assert loop.run_until_complete(answer()) == 42
            finally:
                loop.close()

        class TestIsolated(unittest.IsolatedAsyncioTestCase):
            async def test_unittest_async_case(self):
                self.assertEqual(await answer(), 42)

        @pytest.fixture
        def computed_with_asyncio_run():
            with pytest.raises(RuntimeError, match="no running event loop"):
                asyncio.get_running_loop()
            return asyncio.run(answer())

        @pytest.mark.parametrize("i", range(3))
        async def test_async_test_with_such_a_fixture(computed_with_asyncio_run, i):
            await asyncio.sleep(0.02)
            assert computed_with_asyncio_run == 42
        """
    )
    suite.runpytest(DIST, *mode).assert_outcomes(passed=6)


@pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["one-process", "n2"])
def test_get_event_loop_run_until_complete_in_sync_code_uses_the_tests_loop(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    """The style older than async fixtures: a sync fixture (or test) runs a
    coroutine with ``asyncio.get_event_loop().run_until_complete()``. As with
    pytest-asyncio, that is the loop the async tests run on, so what the
    coroutine made works in them; and the tests beside it keep running."""
    suite.makepyfile(
        """
        import asyncio
        import pytest
        from recorder import span

        async def connect(name):
            async with span(name):
                await asyncio.sleep(0.1)
            return asyncio.get_running_loop(), asyncio.Queue()

        @pytest.fixture(scope="session")
        def service():
            return asyncio.get_event_loop().run_until_complete(connect("session"))

        @pytest.fixture
        def connection(request):
            loop = asyncio.get_event_loop()
            return loop.run_until_complete(connect(request.node.name))

        @pytest.mark.parametrize("i", range(4))
        async def test_uses_it(service, connection, i):
            loop = asyncio.get_running_loop()
            assert service[0] is connection[0] is loop
            await connection[1].put(i)
            assert await connection[1].get() == i

        def test_sync(connection):
            assert asyncio.get_event_loop().run_until_complete(asyncio.sleep(0, "ok")) == "ok"
        """
    )
    suite.runpytest(DIST, *mode).assert_outcomes(passed=5)
    if not mode:  # one loop: the four fixtures' waits overlap
        assert peak_overlap(spans(suite, "test_uses_it")) == 4


@pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["one-process", "n2"])
def test_tasks_a_test_leaves_running_are_cancelled_after_its_teardown(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    """As closing pytest-asyncio's function-scoped loop cancels them: a task a
    test (or its function-scoped fixture) started and never stopped does not
    run on beside later tests; one started by a module fixture runs on until
    that fixture's teardown; one that fails while cancelled is logged, as
    ``asyncio.Runner`` logs it, and fails nothing."""
    suite.makepyfile(
        """
        import asyncio, gc, time
        import pytest
        from recorder import log

        async def poll(name):
            try:
                while True:
                    log(name + " tick", time.perf_counter(), time.perf_counter())
                    await asyncio.sleep(0.01)
            finally:
                log(name + " stopped", time.perf_counter(), time.perf_counter())

        @pytest.fixture(scope="module")
        async def monitor():
            task = asyncio.get_running_loop().create_task(poll("monitor"))
            yield
            assert not task.done(), "the module fixture's task was cancelled early"
            task.cancel()

        @pytest.fixture
        async def server(request):
            asyncio.get_running_loop().create_task(poll(request.node.name + " server"))
            yield
            log(request.node.name + " torndown", time.perf_counter(), time.perf_counter())

        @pytest.mark.resource("k")
        @pytest.mark.parametrize("i", range(3))
        async def test_leaves_tasks(monitor, server, i):
            asyncio.create_task(poll(f"test_leaves_tasks[{i}] body"))
            await asyncio.sleep(0.05)

        @pytest.mark.resource("k")
        def test_sync_leaves_one(monitor):
            loop = asyncio.get_event_loop()
            loop.create_task(poll("test_sync_leaves_one body"))
            loop.run_until_complete(asyncio.sleep(0.03))

        @pytest.mark.resource("k")
        async def test_cleanup_that_fails(monitor):
            async def stubborn():
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    raise RuntimeError("cleanup failed")
            asyncio.create_task(stubborn())
            await asyncio.sleep(0)

        @pytest.mark.resource("k")
        async def test_never_started(monitor):
            asyncio.create_task(poll("never started"))

        @pytest.mark.resource("k")
        async def test_last(monitor):
            await asyncio.sleep(0.3)
            gc.collect()
        """
    )
    result = suite.runpytest(DIST, "-rA", *mode)
    result.assert_outcomes(passed=7)
    assert "never awaited" not in result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*Captured log teardown*",
            "*unhandled exception in a task the test left running*",
            "task: <Task finished *test_cleanup_that_fails.<locals>.stubborn()*",
            "RuntimeError: cleanup failed",
        ]
    )
    recorded = events(suite)
    ticks: dict[str, list[float]] = {}
    stopped: dict[str, float] = {}
    torn_down: dict[str, float] = {}
    for event in recorded:
        name, _, what = str(event["name"]).rpartition(" ")
        at = float(event["start"])  # type: ignore[arg-type]
        if what == "tick":
            ticks.setdefault(name, []).append(at)
        elif what == "stopped":
            stopped[name] = at
        elif what == "torndown":
            torn_down[name] = at
    tests = [f"test_leaves_tasks[{i}]" for i in range(3)]
    left = [f"{t} {part}" for t in tests for part in ("server", "body")]
    assert set(stopped) == {*left, "test_sync_leaves_one body", "monitor"}
    for name in left:
        test = name.split(" ")[0]
        assert stopped[name] > torn_down[test], name  # after the test's own teardown
        assert max(ticks[name]) < stopped[name]
    # ... and long before the run ended: test_last ran 0.3 s after they stopped.
    assert max(stopped[name] for name in left) < stopped["monitor"] - 0.2


@pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["one-process", "n2"])
def test_a_test_that_stops_the_loop_fails_alone(suite: pytest.Pytester, mode: list[str]) -> None:
    """``loop.stop()`` would end the run of every test on the worker's loop (an
    internal error in one process); under pytest-asyncio only that test fails.
    Here too, at the call."""
    suite.makepyfile(
        """
        import asyncio
        import pytest

        @pytest.mark.resource("k")
        @pytest.mark.parametrize("i", range(3))
        async def test_beside(i):
            await asyncio.sleep(0.2)

        @pytest.mark.resource("k")
        async def test_stops_its_loop():
            await asyncio.sleep(0.05)
            asyncio.get_running_loop().stop()

        @pytest.mark.resource("k")
        def test_sync_stops_it():
            asyncio.get_event_loop().stop()
        """
    )
    result = suite.runpytest(DIST, *mode)
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(
        ["*RuntimeError: pytest-asyncgroup: loop.stop() was called on the worker's event loop*"]
    )


@pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["one-process", "n2"])
def test_a_fixture_that_sets_its_own_loop_leaves_the_worker_s_loop_current(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    """The older fixture style sets a new loop as the current one and closes it
    after the test; the sync code of later tests still gets the worker's loop."""
    suite.makepyfile(
        """
        import asyncio
        import pytest

        @pytest.fixture
        def own_loop():
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            yield loop
            loop.close()

        @pytest.mark.resource("k", exclusive=True)
        def test_1_own_loop(own_loop):
            assert own_loop.run_until_complete(asyncio.sleep(0, "done")) == "done"

        @pytest.mark.resource("k", exclusive=True)
        def test_2_later():
            loop = asyncio.get_event_loop()
            assert not loop.is_closed()
            assert loop.run_until_complete(asyncio.sleep(0.01, "done")) == "done"
        """
    )
    suite.runpytest(DIST, *mode).assert_outcomes(passed=2)


COLLECTOR_SUITE = """
    import asyncio, gc, json
    import pytest

    def seen(name):
        with open("thresholds.jsonl", "a") as out:
            out.write(json.dumps([name, gc.get_threshold()]) + "\\n")

    @pytest.mark.parametrize("i", range(4))
    async def test_overlapping(i):
        await asyncio.sleep(0.05)
        seen(f"async{i}")

    def test_alone():
        seen("sync")
    """


def _thresholds(pytester: pytest.Pytester) -> dict[str, list[int]]:
    lines = (pytester.path / "thresholds.jsonl").read_text().splitlines()
    return {name: threshold for name, threshold in map(json.loads, lines)}


@pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["one-process", "n2"])
def test_the_collector_runs_less_often_only_while_tests_overlap(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    """Overlapping tests see the youngest generation's threshold raised (their
    suspended protocols outlive it otherwise); a test that runs alone sees the
    usual one, and so does the process after the run."""
    before = gc.get_threshold()
    suite.makepyfile(COLLECTOR_SUITE)
    suite.runpytest(DIST, *mode, "-p", "no:randomly").assert_outcomes(passed=5)
    seen = _thresholds(suite)
    assert {name: seen[name] for name in seen if name.startswith("async")} == {
        f"async{i}": [YOUNG_WHILE_OVERLAPPING, before[1], before[2]] for i in range(4)
    }
    assert seen["sync"] == list(before)
    assert gc.get_threshold() == before


def test_thresholds_a_suite_sets_itself_are_left_as_they_are(suite: pytest.Pytester) -> None:
    suite.makeconftest(
        """
        import gc

        gc.set_threshold(5000, 20, 30)
        """
    )
    suite.makepyfile(COLLECTOR_SUITE)
    # In a process of its own: the plugin reads the thresholds when it is loaded.
    suite.runpytest_subprocess(DIST, "-p", "no:randomly").assert_outcomes(passed=5)
    assert set(map(tuple, _thresholds(suite).values())) == {(5000, 20, 30)}


def test_the_usual_thresholds_are_back_after_the_run(suite: pytest.Pytester) -> None:
    before = gc.get_threshold()
    suite.makepyfile(
        """
        import asyncio, gc
        import pytest

        @pytest.mark.parametrize("i", range(3))
        async def test_overlapping(i):
            await asyncio.sleep(0.02)
            assert gc.get_threshold()[0] > 2000
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=3)
    assert gc.get_threshold() == before
