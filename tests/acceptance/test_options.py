"""Issue 4 item 5: pytest's selection and reporting options, while tests overlap."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from ..conftest import events, write_ini

DIST = "--dist=asyncgroup"
DURATION = re.compile(r"\d+\.\d+s +(setup|call|teardown) +\S+")
MODES = [pytest.param([], id="one-process"), pytest.param(["-n", "2"], id="n2")]

SUITE = """
import asyncio, os
import pytest
from recorder import span

@pytest.mark.resource("db")
@pytest.mark.parametrize("i", range(4))
async def test_db(i):
    async with span(f"db{i}"):
        print(f"db{i} says hello")
        await asyncio.sleep(0.05)
    assert i != 2 or os.environ.get("FIXED"), "db2 is broken"

@pytest.mark.slow
@pytest.mark.parametrize("i", range(3))
async def test_api(i):
    async with span(f"api{i}"):
        await asyncio.sleep(0.1 * (i + 1))

@pytest.mark.skip(reason="not today")
async def test_skipped():
    pass

@pytest.mark.xfail(reason="known")
async def test_xfail():
    assert False
"""


@pytest.fixture
def options_suite(suite: pytest.Pytester) -> pytest.Pytester:
    write_ini(suite, "markers = slow")
    suite.makepyfile(test_opts=SUITE)
    return suite


def _ran(pytester: pytest.Pytester) -> list[str]:
    """Names of the inner tests that ran, in the order they started."""
    started = sorted(events(pytester), key=lambda e: float(e["start"]))  # type: ignore[arg-type]
    return [str(e["name"]) for e in started]


@pytest.mark.parametrize("mode", MODES)
def test_k_and_m_select_tests(options_suite: pytest.Pytester, mode: list[str]) -> None:
    # xdist's summary does not count deselected tests (its workers deselect).
    deselected = 0 if mode else 6
    result = options_suite.runpytest(DIST, *mode, "-k", "db and not 2")
    result.assert_outcomes(passed=3, deselected=deselected)
    assert sorted(_ran(options_suite)) == ["db0", "db1", "db3"]
    (options_suite.path / "events.jsonl").unlink()
    result = options_suite.runpytest(DIST, *mode, "-m", "slow")
    result.assert_outcomes(passed=3, deselected=deselected)
    assert sorted(_ran(options_suite)) == ["api0", "api1", "api2"]


@pytest.mark.parametrize("mode", MODES)
def test_last_failed_failed_first_and_stepwise(
    options_suite: pytest.Pytester, mode: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    options_suite.runpytest(DIST, *mode).assert_outcomes(passed=6, failed=1, skipped=1, xfailed=1)

    (options_suite.path / "events.jsonl").unlink()
    last_failed = options_suite.runpytest(DIST, *mode, "--lf")
    last_failed.assert_outcomes(failed=1)
    assert _ran(options_suite) == ["db2"]

    (options_suite.path / "events.jsonl").unlink()
    options_suite.runpytest(DIST, *mode, "--ff")
    assert next(name for name in _ran(options_suite) if name.startswith("db")) == "db2"

    # --sw stops at the failure; once fixed, the next --sw run starts from it.
    (options_suite.path / "events.jsonl").unlink()
    result = options_suite.runpytest(DIST, *mode, "--sw")
    result.stdout.fnmatch_lines(["*Interrupted: Test failed, continuing from this test next run*"])
    monkeypatch.setenv("FIXED", "1")
    (options_suite.path / "events.jsonl").unlink()
    result = options_suite.runpytest(DIST, *mode, "--sw")
    assert result.ret == pytest.ExitCode.OK
    ran = _ran(options_suite)
    assert "db2" in ran
    assert "db0" not in ran


@pytest.mark.parametrize("mode", MODES)
def test_verbosity_short_summary_and_durations(
    options_suite: pytest.Pytester, mode: list[str]
) -> None:
    result = options_suite.runpytest(DIST, *mode, "-v", "-rA", "--durations=0", "--durations-min=0")
    verbose = [
        ("test_db[[]0[]]", "PASSED"),
        ("test_db[[]2[]]", "FAILED"),
        ("test_skipped", "SKIPPED"),
        ("test_xfail", "XFAIL"),
    ]
    # xdist prints "[gw0] [ 55%] PASSED test_opts.py::...", pytest "... PASSED [ 55%]".
    result.stdout.fnmatch_lines_random(
        [
            f"*{outcome} test_opts.py::{name}*" if mode else f"test_opts.py::{name} {outcome}*"
            for name, outcome in verbose
        ]
    )
    # pytest's durations section, from each overlapping test's own reports: every
    # phase of every test, slowest first, a call at least as long as its sleep (on a
    # loaded machine the steps between sleeps take longer: no upper bounds).
    result.stdout.fnmatch_lines(["*= slowest durations =*"])
    durations = [
        (float(seconds.removesuffix("s")), when, nodeid.split("::")[1])
        for seconds, when, nodeid in (
            line.split() for line in result.stdout.lines if DURATION.fullmatch(line)
        )
    ]
    assert [seconds for seconds, _, _ in durations] == sorted(
        (seconds for seconds, _, _ in durations), reverse=True
    )
    calls = {name: seconds for seconds, when, name in durations if when == "call"}
    slept = {f"test_db[{i}]": 0.05 for i in range(4)}
    slept.update({"test_api[0]": 0.1, "test_api[1]": 0.2, "test_api[2]": 0.3})
    assert calls.keys() >= slept.keys()
    # (pytest prints two decimals)
    assert all(calls[name] >= seconds - 0.005 for name, seconds in slept.items()), calls
    result.stdout.fnmatch_lines(["*short test summary info*"])
    result.stdout.fnmatch_lines_random(
        ["PASSED *test_db[[]0[]]", "FAILED *test_db[[]2[]] - *db2 is broken*", "SKIPPED *"]
    )
    quiet = options_suite.runpytest(DIST, *mode, "-q")
    quiet.stdout.no_fnmatch_line("*PASSED*")
    quiet.assert_outcomes(passed=6, failed=1, skipped=1, xfailed=1)


@pytest.mark.parametrize("mode", MODES)
def test_junitxml_has_one_testcase_per_test_with_its_own_output(
    options_suite: pytest.Pytester, mode: list[str]
) -> None:
    options_suite.runpytest(DIST, *mode, "--junitxml=junit.xml", "-o", "junit_logging=all")
    root = ET.parse(options_suite.path / "junit.xml").getroot()
    (testsuite,) = root.iter("testsuite")
    cases = list(testsuite.iter("testcase"))
    assert int(testsuite.get("tests", "0")) == len(cases) == 9
    assert (testsuite.get("failures"), testsuite.get("errors"), testsuite.get("skipped")) == (
        "1",
        "0",
        "2",
    )
    by_name = {case.get("name"): case for case in cases}
    assert len(by_name) == 9
    for case in cases:
        assert case.get("classname") == "test_opts"
        assert float(case.get("time", "-1")) >= 0
    assert by_name["test_db[2]"].find("failure") is not None
    assert by_name["test_skipped"].find("skipped") is not None
    assert by_name["test_xfail"].find("skipped") is not None
    for i in range(4):
        out = by_name[f"test_db[{i}]"].findtext("system-out") or ""
        assert f"db{i} says hello" in out
        assert all(f"db{j} says hello" not in out for j in range(4) if j != i)
