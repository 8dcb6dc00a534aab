"""Warning filters and records per test, while tests overlap.

README: "Output, logs and warnings".
"""

from __future__ import annotations

import pytest

from ..conftest import peak_overlap, spans

DIST = "--dist=asyncgroup"
MODES = [pytest.param([], id="one-process"), pytest.param(["-n", "2"], id="n2")]

RECORDED = """
import json
from pathlib import Path

def pytest_warning_recorded(warning_message, when, nodeid, location):
    if when == "runtest":
        with (Path(__file__).parent / "warnings.jsonl").open("a") as fh:
            fh.write(json.dumps([nodeid.split("::")[-1], str(warning_message.message)]) + "\\n")
"""


def _recorded(pytester: pytest.Pytester) -> set[tuple[str, str]]:
    import json

    path = pytester.path / "warnings.jsonl"
    return {tuple(json.loads(line)) for line in path.read_text().splitlines()}  # type: ignore[misc]


@pytest.mark.parametrize("mode", MODES)
def test_filters_apply_per_test_and_warnings_are_recorded_under_their_test(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makeconftest(RECORDED)
    suite.makepyfile(
        test_warn="""
        import asyncio, warnings
        import pytest
        from recorder import span

        async def step(name):
            async with span(name):
                for _ in range(3):
                    await asyncio.sleep(0.03)
                warnings.warn(f"from {name}", DeprecationWarning)
                await asyncio.sleep(0.03)

        @pytest.mark.filterwarnings("error::DeprecationWarning")
        @pytest.mark.parametrize("i", range(3))
        async def test_strict(i):
            await step(f"strict{i}")

        @pytest.mark.parametrize("i", range(3))
        async def test_lenient(i):
            await step(f"lenient{i}")

        @pytest.mark.filterwarnings("ignore:from quiet")
        async def test_quiet():
            await step("quiet")
        """
    )
    result = suite.runpytest(DIST, *mode)
    result.assert_outcomes(passed=4, failed=3)
    for i in range(3):
        result.stdout.fnmatch_lines([f"FAILED *test_strict[[]{i}[]] - DeprecationWarning: *"])
    assert peak_overlap(spans(suite)) >= 4
    assert _recorded(suite) == {(f"test_lenient[{i}]", f"from lenient{i}") for i in range(3)}
    result.stdout.fnmatch_lines(["*warnings summary*", "test_warn.py::test_lenient[[]0[]]"])


def test_command_line_and_ini_filters_apply_to_overlapping_tests(
    suite: pytest.Pytester,
) -> None:
    suite.makefile(
        ".ini",
        pytest="[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings =\n    error::UserWarning\n    ignore::FutureWarning\n"
        "    ignore::pytest.PytestConfigWarning\n",
    )
    suite.makepyfile(
        test_warn="""
        import asyncio, warnings
        import pytest

        @pytest.mark.parametrize("i", range(4))
        async def test_user(i):
            await asyncio.sleep(0.05)
            warnings.warn("user", UserWarning)

        @pytest.mark.filterwarnings("default::UserWarning")
        @pytest.mark.parametrize("i", range(4))
        async def test_allowed(i):
            await asyncio.sleep(0.05)
            warnings.warn("user", UserWarning)
            warnings.warn("future", FutureWarning)
            warnings.warn("runtime", RuntimeWarning)
        """
    )
    result = suite.runpytest(DIST, "-W", "error::RuntimeWarning")
    result.assert_outcomes(failed=8)
    result.stdout.fnmatch_lines(["FAILED *test_user[[]0[]] - UserWarning: user"])
    result.stdout.fnmatch_lines(["FAILED *test_allowed[[]0[]] - RuntimeWarning: runtime"])


@pytest.mark.parametrize("mode", MODES)
def test_recwarn_and_pytest_warns_see_only_their_own_test(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(
        test_warn="""
        import asyncio, warnings
        import pytest
        from recorder import span

        @pytest.mark.parametrize("i", range(4))
        async def test_recwarn(recwarn, i):
            async with span(f"recwarn{i}"):
                for _ in range(3):
                    warnings.warn(f"recwarn{i}", UserWarning)
                    await asyncio.sleep(0.03)
            assert [str(w.message) for w in recwarn] == [f"recwarn{i}"] * 3

        @pytest.mark.parametrize("i", range(4))
        async def test_warns(i):
            async with span(f"warns{i}"):
                with pytest.warns(UserWarning) as record:
                    for _ in range(3):
                        await asyncio.sleep(0.03)
                        warnings.warn(f"warns{i}", UserWarning)
            assert [str(w.message) for w in record] == [f"warns{i}"] * 3
        """
    )
    result = suite.runpytest(DIST, *mode)
    result.assert_outcomes(passed=8)
    assert peak_overlap(spans(suite)) >= 4


@pytest.mark.parametrize("mode", MODES)
def test_warnings_in_tasks_a_test_starts_are_the_test_s(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    """As in a plain run, where a task's steps run while its test waits: the
    test's filters apply to the tasks it starts (an ``error`` filter fails the
    test awaiting the task), ``pytest.warns`` sees their warnings, and the
    others are recorded under the test that started the task, even while the
    tests overlap; a task with a ``catch_warnings`` of its own keeps it."""
    suite.makeconftest(RECORDED)
    suite.makepyfile(
        test_tasks="""
        import asyncio, warnings
        import pytest
        from recorder import span

        async def warn_later(name):
            async with span(name):
                await asyncio.sleep(0.05)
                warnings.warn(f"from {name}", DeprecationWarning)
                await asyncio.sleep(0.05)

        async def quiet_task(name):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                await asyncio.sleep(0.05)
                warnings.warn(f"from {name}", DeprecationWarning)

        @pytest.mark.filterwarnings("error::DeprecationWarning")
        @pytest.mark.parametrize("i", range(2))
        async def test_strict(i):
            await asyncio.create_task(warn_later(f"strict{i}"))

        @pytest.mark.parametrize("i", range(2))
        async def test_lenient(i):
            await asyncio.gather(warn_later(f"lenient{i}"))

        async def test_warns():
            with pytest.warns(DeprecationWarning, match="from caught"):
                await asyncio.create_task(warn_later("caught"))

        @pytest.mark.filterwarnings("error::DeprecationWarning")
        async def test_task_ignores_its_own():
            await asyncio.create_task(quiet_task("ignored"))
        """
    )
    result = suite.runpytest(DIST, *mode)
    result.assert_outcomes(passed=4, failed=2)
    for i in range(2):
        result.stdout.fnmatch_lines(
            [f"FAILED *test_strict[[]{i}[]] - DeprecationWarning: from strict{i}"]
        )
    assert peak_overlap(spans(suite)) == 3  # the tasks that ended without an error
    assert _recorded(suite) == {(f"test_lenient[{i}]", f"from lenient{i}") for i in range(2)}
