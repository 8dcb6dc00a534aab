"""The summary says what kept tests apart (README: "Seeing the run")."""

from __future__ import annotations

import json
import re

import pytest

DIST = "--dist=asyncgroup"
MODES = pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["one-process", "n2"])


@MODES
def test_an_autouse_fixture_requesting_an_alone_fixture_is_named_with_its_chain(
    pytester: pytest.Pytester, mode: list[str]
) -> None:
    """The reduced suite of a real HTTP-server suite: one autouse fixture freezing a
    clock with an alone fixture (``monkeypatch`` was one) made every test run alone,
    and nothing said why."""
    pytester.makeini("[pytest]\npythonpath = .\n")
    pytester.makepyfile(
        app="""
        from time import time
        def stamp():
            return time()
        """,
        conftest="""
        import pytest, app
        @pytest.fixture(autouse=True)
        def frozen(capfd):
            app.time = lambda: 5000
        """,
        test_x="""
        import asyncio, pytest, app
        @pytest.mark.parametrize("i", range(6))
        async def test_stamp(i):
            await asyncio.sleep(0.01 * (i % 3))
            assert app.stamp() == 5000
        """,
    )
    result = pytester.runpytest_subprocess(DIST, *mode, timeout=120)
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(
        [
            "*ran alone in their worker, by reason:",
            "  6: alone fixture: frozen (autouse, conftest.py:2) -> capfd (capture.py:*)",
            "effective parallelism under 1.5* mainly because 6 of 6 tests ran alone"
            " (alone fixture: frozen*): tests requesting capfd run alone"
            " (asyncgroup_alone_fixtures)*",
        ]
    )
    counts = re.findall(r"^  (?:main|gw\d+): .*, (\d+) ran alone$", result.stdout.str(), re.M)
    assert sum(map(int, counts)) == 6


def test_serial_marks_sync_tests_and_requested_fixtures_are_told_apart(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        conftest="""
        import pytest
        @pytest.fixture
        def patched(mocker_like):
            yield
        @pytest.fixture
        def mocker_like(capfd):
            yield
        """,
        test_y="""
        import asyncio, pytest

        @pytest.mark.serial
        async def test_serial():
            pass

        def test_sync():
            pass

        async def test_patched(patched):
            pass

        @pytest.mark.parametrize("i", range(3))
        async def test_free(i):
            await asyncio.sleep(0.05)
        """,
    )
    result = pytester.runpytest_subprocess(DIST, timeout=120)
    result.assert_outcomes(passed=6)
    out = result.stdout.str()
    assert "main: 6 tests, peak 3 in flight" in out
    assert ", 3 ran alone" in out
    result.stdout.fnmatch_lines_random(
        [
            "  1: serial mark",
            "  1: sync test",
            "  1: alone fixture: patched (conftest.py:2) -> mocker_like (conftest.py:5) -> capfd*",
        ]
    )


def test_the_plan_and_the_timeline_say_why_tests_run_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        conftest="""
        import pytest
        @pytest.fixture
        def patched(capfd):
            yield
        """,
        test_z="""
        import pytest

        def test_sync():
            pass

        async def test_patched(patched):
            pass

        @pytest.mark.serial
        async def test_serial():
            pass

        async def test_free():
            pass
        """,
    )
    plan = pytester.runpytest_subprocess(DIST, "-n", "2", "--asyncgroup-plan", timeout=120)
    assert plan.ret == 0
    plan.stdout.fnmatch_lines(
        [
            "alone in their worker, by reason: 2 tests",
            "  1: alone fixture: patched (conftest.py:2) -> capfd (capture.py:*)",
            "  1: sync test",
        ]
    )
    assert "serial mark" not in plan.stdout.str()  # listed as serial above
    trace = pytester.path / "trace.json"
    run = pytester.runpytest_subprocess(DIST, f"--asyncgroup-timeline={trace}", timeout=120)
    run.assert_outcomes(passed=4)
    slices = [e for e in json.loads(trace.read_text())["traceEvents"] if e["ph"] == "X"]
    alone = {e["name"]: e["args"].get("alone") for e in slices if e["args"].get("phase") == "call"}
    assert alone == {
        "test_z.py::test_sync": "sync test",
        "test_z.py::test_patched": alone["test_z.py::test_patched"],
        "test_z.py::test_serial": "serial mark",
        "test_z.py::test_free": None,
    }
    assert alone["test_z.py::test_patched"].startswith("alone fixture: patched")


def test_the_summary_says_how_long_the_concurrency_cap_held_tests_back(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_capped="""
        import asyncio, pytest

        @pytest.mark.parametrize("i", range(6))
        async def test_waits(i):
            await asyncio.sleep(0.1)
        """
    )
    capped = pytester.runpytest_subprocess(DIST, "--asyncgroup-concurrency=2", timeout=120)
    capped.assert_outcomes(passed=6)
    capped.stdout.re_match_lines(
        [r"  main: 6 tests, peak 2 in flight, .*, at the concurrency cap \d+% "]
    )
    free = pytester.runpytest_subprocess(DIST, timeout=120)
    free.assert_outcomes(passed=6)
    free.stdout.no_fnmatch_line("*concurrency cap*")
