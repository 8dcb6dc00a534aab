"""Suites written for pytest-asyncio run unchanged, on the worker's one loop.

README: "How it works".
"""

from __future__ import annotations

import pytest

from ..conftest import peak_overlap, spans, write_ini

pytest.importorskip("pytest_asyncio")

DIST = "--dist=asyncgroup"

SUITE = """
import asyncio
import pytest
import pytest_asyncio
from recorder import waiting

loops = set()

@pytest_asyncio.fixture(scope="session")
async def session_loop():
    loops.add(asyncio.get_running_loop())
    yield asyncio.get_running_loop()

@pytest_asyncio.fixture(scope="module")
async def module_value(session_loop):
    loops.add(asyncio.get_running_loop())
    yield "module"

@pytest_asyncio.fixture
async def per_test(module_value):
    await asyncio.sleep(0.05)
    loops.add(asyncio.get_running_loop())
    yield module_value + "/test"

@pytest.mark.asyncio
@pytest.mark.parametrize("i", range(10))
async def test_marked(per_test, session_loop, i):
    assert per_test == "module/test"
    assert asyncio.get_running_loop() is session_loop
    await waiting("t", 0.1)

class TestClassScope:
    @pytest_asyncio.fixture(scope="class")
    async def class_value(self, module_value):
        loops.add(asyncio.get_running_loop())
        yield module_value + "/class"

    @pytest.mark.asyncio
    @pytest.mark.parametrize("i", range(3))
    async def test_in_class(self, class_value, i):
        assert class_value == "module/class"
        await waiting("c", 0.05)

def test_one_loop_for_everything():
    assert len(loops) == 1
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_a_pytest_asyncio_suite_runs_unchanged_and_concurrently(
    suite: pytest.Pytester, mode: str
) -> None:
    # loop scopes at which the same suite is valid under plain pytest-asyncio too
    write_ini(
        suite,
        f"asyncio_mode = {mode}",
        "asyncio_default_test_loop_scope = session",
    )
    (suite.path / "pytest.ini").write_text(
        (suite.path / "pytest.ini")
        .read_text()
        .replace(
            "asyncio_default_fixture_loop_scope = function",
            "asyncio_default_fixture_loop_scope = session",
        )
    )
    suite.makepyfile(SUITE)
    suite.runpytest().assert_outcomes(passed=14)
    assert peak_overlap(spans(suite, "t")) == 1  # plain pytest-asyncio: one at a time
    (suite.path / "events.jsonl").unlink()
    suite.runpytest(DIST).assert_outcomes(passed=14)
    assert peak_overlap(spans(suite, "t")) == 10
    assert peak_overlap(spans(suite, "c")) == 3


def test_loop_scope_arguments_are_accepted_and_everything_shares_one_loop(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(
        """
        import asyncio
        import pytest
        import pytest_asyncio

        seen = set()

        @pytest_asyncio.fixture(loop_scope="module")
        async def module_loop_fixture():
            seen.add(asyncio.get_running_loop())

        @pytest.mark.asyncio(loop_scope="module")
        async def test_module_loop(module_loop_fixture):
            seen.add(asyncio.get_running_loop())

        @pytest.mark.asyncio(loop_scope="function")
        async def test_function_loop():
            seen.add(asyncio.get_running_loop())

        def test_one_loop():
            assert len(seen) == 1
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=3)


def test_auto_mode_plain_fixtures_and_tests(suite: pytest.Pytester) -> None:
    write_ini(suite, "asyncio_mode = auto")
    suite.makepyfile(
        """
        import asyncio
        import pytest
        from recorder import waiting

        @pytest.fixture
        async def value():
            await asyncio.sleep(0.01)
            return 42

        @pytest.mark.parametrize("i", range(5))
        async def test_auto(value, i):
            assert value == 42
            await waiting("t", 0.1)
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=5)
    assert peak_overlap(spans(suite, "t")) == 5


POLICY = """
import asyncio
import pytest

class MarkedLoop(asyncio.SelectorEventLoop):
    pass

class MarkedPolicy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self):
        return MarkedLoop()
"""


@pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["one-process", "n2"])
def test_an_event_loop_policy_fixture_is_refused_and_a_policy_set_at_import_is_used(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    """pytest-asyncio would run the async tests on loops of the fixture's policy
    (once per parameter, when parametrized); our one loop cannot honour it."""
    suite.makepyfile(
        test_policy="""
        import asyncio
        import pytest

        @pytest.mark.asyncio
        async def test_on_the_marked_loop():
            assert type(asyncio.get_running_loop()).__name__ == "MarkedLoop"

        @pytest.mark.asyncio
        async def test_too():
            pass

        def test_sync():
            pass
        """
    )
    suite.makeconftest(
        POLICY
        + """
@pytest.fixture(scope="session", params=["marked", "default"])
def event_loop_policy(request):
    return MarkedPolicy() if request.param == "marked" else asyncio.DefaultEventLoopPolicy()
"""
    )
    result = suite.runpytest(DIST, *mode)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*test_on_the_marked_loop[[]marked[]] and 3 more: the event_loop_policy fixture "
            "in conftest.py asks for loops of its own policy*"
        ]
    )
    assert "test_sync" not in result.stderr.str()

    # What the message advises: the policy in force when the run starts.
    suite.makeconftest(POLICY + "\nasyncio.set_event_loop_policy(MarkedPolicy())\n")
    suite.runpytest(DIST, *mode).assert_outcomes(passed=3)


def test_tasks_on_a_wider_loop_scope_outlive_the_test(suite: pytest.Pytester) -> None:
    """pytest-asyncio cancels a test's leftover tasks when its loop closes: at
    the test's end for the default function loop, later for a test or fixture
    with a wider ``loop_scope``. So only the former are cancelled at the end."""
    suite.makepyfile(
        """
        import asyncio
        import pytest
        import pytest_asyncio

        tasks = {}

        async def forever():
            await asyncio.sleep(3600)

        @pytest_asyncio.fixture(loop_scope="module")
        async def on_module_loop():
            tasks["module-loop fixture"] = asyncio.create_task(forever())

        @pytest_asyncio.fixture
        async def on_function_loop():
            tasks["function-loop fixture"] = asyncio.create_task(forever())

        @pytest.mark.asyncio(loop_scope="module")
        async def test_1_module_loop(on_module_loop, on_function_loop):
            tasks["module-loop test"] = asyncio.create_task(forever())

        @pytest.mark.asyncio
        async def test_1_function_loop():
            tasks["function-loop test"] = asyncio.create_task(forever())

        @pytest.mark.asyncio(loop_scope="module")
        async def test_2_later():
            await asyncio.sleep(0.05)
            cancelled = sorted(name for name, task in tasks.items() if task.cancelled())
            assert cancelled == ["function-loop fixture", "function-loop test"]
            assert all(not task.done() for name, task in tasks.items() if name not in cancelled)
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=3)


def test_the_ini_s_default_loop_scopes_count_too(suite: pytest.Pytester) -> None:
    """The same rule from the ini: with ``asyncio_default_test_loop_scope`` and
    ``asyncio_default_fixture_loop_scope`` set to ``module``, no task is cancelled
    at its test's end, except those of a fixture or test marked for the function loop."""
    suite.makefile(
        ".ini",
        pytest="""
        [pytest]
        asyncio_mode = auto
        asyncio_default_test_loop_scope = module
        asyncio_default_fixture_loop_scope = module
        """,
    )
    suite.makepyfile(
        """
        import asyncio
        import pytest
        import pytest_asyncio

        tasks = {}

        async def forever():
            await asyncio.sleep(3600)

        @pytest.fixture
        async def by_default():
            tasks["default fixture"] = asyncio.create_task(forever())

        @pytest_asyncio.fixture(loop_scope="function")
        async def on_function_loop():
            tasks["function-loop fixture"] = asyncio.create_task(forever())

        async def test_1_default(by_default, on_function_loop):
            tasks["default test"] = asyncio.create_task(forever())

        @pytest.mark.asyncio(loop_scope="function")
        async def test_1_function_loop():
            tasks["function-loop test"] = asyncio.create_task(forever())

        async def test_2_later():
            await asyncio.sleep(0.05)
            cancelled = sorted(name for name, task in tasks.items() if task.cancelled())
            assert cancelled == ["function-loop fixture", "function-loop test"]
            assert len(tasks) == 4
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=3)
