"""SPEC §5, issue 4 item 3: warning filters and records per test, while tests overlap."""

from __future__ import annotations

import pytest

from .conftest import peak_overlap, spans

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
