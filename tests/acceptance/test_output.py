"""Each test's output and log records, while tests overlap.

The inner tests tag every line they write with their own name, and wait between
writes so their setups, calls and teardowns interleave (proven from spans). Each
report section must then hold only lines carrying its own test's name, in the
phase that wrote them.

README: "Output, logs and warnings".
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pytest

from ..conftest import peak_overlap, spans

DIST = "--dist=asyncgroup"
MODES = [pytest.param([], id="one-process"), pytest.param(["-n", "2"], id="n2")]

TAGGED = """
import asyncio, logging, sys
import pytest
from recorder import span

log = logging.getLogger("app")

def say(name, phase):
    print(f"{name} out {phase}")
    sys.stderr.write(f"{name} err {phase}\\n")
    log.warning("%s log %s", name, phase)

@pytest.fixture
async def tagged(request):
    name = request.node.name
    say(name, "setup")
    await asyncio.sleep(0.05)
    say(name, "setup")
    yield name
    await asyncio.sleep(0.05)
    say(name, "teardown")

@pytest.mark.parametrize("i", range(12))
async def test_tagged(tagged, i):
    async with span(tagged):
        say(tagged, "call")
        await asyncio.sleep(0.1)
        say(tagged, "call")
        await asyncio.sleep(0.05)
    assert i % 4, "every fourth test fails, to show its sections"
"""


def _sections(reports: Sequence[pytest.TestReport]) -> dict[str, dict[str, str]]:
    """Each test's report sections, by test name, from its teardown report."""
    return {
        report.nodeid.split("::")[-1]: dict(report.sections)
        for report in reports
        if report.when == "teardown"
    }


@pytest.mark.parametrize("mode", MODES)
def test_each_test_gets_its_own_output_and_logs_in_the_right_phase(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(test_tagged=TAGGED)
    reports = suite.inline_run(DIST, *mode).getreports("pytest_runtest_logreport")
    assert peak_overlap(spans(suite)) >= 6
    _assert_each_test_has_only_its_own_output(reports)


def _assert_each_test_has_only_its_own_output(reports: Sequence[pytest.TestReport]) -> None:
    """Every ``TAGGED`` test's sections hold exactly what it wrote, phase by phase."""
    sections = _sections(reports)
    assert len(sections) == 12
    for name, own in sections.items():
        expected = {
            f"Captured {stream} {phase}": "".join(
                f"{name} {tag} {phase}\n" for _ in range(2 if phase != "teardown" else 1)
            )
            for stream, tag in (("stdout", "out"), ("stderr", "err"))
            for phase in ("setup", "call", "teardown")
        }
        for title, text in expected.items():
            assert own[title] == text, (name, title)
        for phase in ("setup", "call", "teardown"):
            lines = own[f"Captured log {phase}"].splitlines()
            count = 1 if phase == "teardown" else 2
            assert len(lines) == count, (name, phase, lines)
            assert all(line.endswith(f"{name} log {phase}") for line in lines), lines


def test_nothing_reaches_the_terminal_and_failures_show_their_sections(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(test_tagged=TAGGED)
    result = suite.runpytest(DIST)
    result.assert_outcomes(passed=9, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*_ test_tagged[[]0[]] _*",
            "*- Captured stdout setup -*",
            "test_tagged[[]0[]] out setup",
            "test_tagged[[]0[]] out setup",
            "*- Captured stderr setup -*",
            "*- Captured log setup -*",
            "*- Captured stdout call -*",
            "test_tagged[[]0[]] out call",
            "test_tagged[[]0[]] out call",
            "*- Captured log call -*",
            "WARNING *test_tagged[[]0[]] log call",
        ]
    )
    text = result.stdout.str() + result.stderr.str()
    # Passing tests' output is never shown; failing tests' only in their sections.
    assert "test_tagged[1] out" not in text
    assert "test_tagged[5] err" not in text
    assert text.count("test_tagged[4] out call") == 2


def test_capture_fixtures_run_alone_and_see_only_their_own_output(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(
        test_fixtures="""
        import asyncio, logging, os, sys
        import pytest
        from recorder import span

        @pytest.mark.parametrize("i", range(6))
        async def test_noisy(i):
            async with span(f"noisy{i}"):
                for _ in range(5):
                    print("noise")
                    logging.getLogger().warning("noise")
                    await asyncio.sleep(0.02)

        async def test_capsys(capsys):
            async with span("capsys"):
                print("mine")
                await asyncio.sleep(0.05)
            assert capsys.readouterr().out == "mine\\n"

        async def test_capfd(capfd):
            async with span("capfd"):
                os.write(1, b"raw\\n")
                await asyncio.sleep(0.05)
            assert capfd.readouterr().out == "raw\\n"

        async def test_caplog(caplog):
            async with span("caplog"):
                await asyncio.sleep(0.03)
                logging.getLogger("app").warning("mine")
                await asyncio.sleep(0.05)
            assert [r.getMessage() for r in caplog.records] == ["mine"]
            assert caplog.text.strip().endswith("mine")
        """
    )
    result = suite.runpytest(DIST)
    result.assert_outcomes(passed=9)
    noisy = [s for s in spans(suite, "noisy")]
    assert peak_overlap(noisy) == 6
    for alone in ("capsys", "capfd"):
        (interval,) = spans(suite, alone)
        assert peak_overlap([*noisy, interval]) == 6  # the noisy ones, never with it
        assert all(not (s[0] < interval[1] and interval[0] < s[1]) for s in noisy)
    (caplog,) = spans(suite, "caplog")
    assert any(s[0] < caplog[1] and caplog[0] < s[1] for s in noisy)  # caplog overlaps


def test_no_capture_and_tee_sys_show_output_as_plain_pytest(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_s="""
        import asyncio

        async def test_a():
            print("from a")
            await asyncio.sleep(0.05)

        async def test_b():
            print("from b")
            await asyncio.sleep(0.05)
            assert False
        """
    )
    result = suite.runpytest(DIST, "-s")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*from a*"])
    result.stdout.no_fnmatch_line("*Captured stdout call*")

    result = suite.runpytest(DIST, "--capture=tee-sys")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*from a*"])
    result.stdout.fnmatch_lines(["*- Captured stdout call -*", "from b"])


def test_live_logs_are_shown_for_overlapping_tests(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_cli="""
        import asyncio, logging
        import pytest

        @pytest.mark.parametrize("i", range(3))
        async def test_log(i):
            await asyncio.sleep(0.02)
            logging.getLogger("app").warning("live %d", i)
        """
    )
    result = suite.runpytest(DIST, "-o", "log_cli=true")
    result.assert_outcomes(passed=3)
    for i in range(3):
        result.stdout.fnmatch_lines([f"WARNING  app:test_cli.py:* live {i}"])


@pytest.mark.parametrize("mode", MODES)
def test_setup_show_keeps_each_test_s_output_its_own(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    """``--setup-show`` switches pytest's process-wide capture around each fixture
    line; overlapping tests must keep their own output all the same."""
    suite.makepyfile(test_tagged=TAGGED)
    reports = suite.inline_run(DIST, "--setup-show", *mode).getreports("pytest_runtest_logreport")
    assert peak_overlap(spans(suite)) >= 6
    _assert_each_test_has_only_its_own_output(reports)


def test_setup_show_shows_every_overlapping_test(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_tagged=TAGGED)
    result = suite.runpytest_subprocess(DIST, "--setup-show", "-p", "no:asyncio")
    result.assert_outcomes(passed=9, failed=3)
    assert peak_overlap(spans(suite)) >= 6
    text = result.stdout.str()
    for i in range(12):
        assert f"test_tagged.py::test_tagged[{i}] (fixtures used: i, request, tagged)" in text
    assert text.count("SETUP    F tagged") == text.count("TEARDOWN F tagged") == 12
    assert "test_tagged[1] out" not in text  # a passing test's output stays captured


DEBUGGED = """
import asyncio
import pytest
from recorder import span

@pytest.mark.parametrize("i", range(3))
async def test_debugged(i):
    async with span(f"t{i}"):
        print(f"before {i}")
        await asyncio.sleep(0.1)
        if i == 1:
            here = f"inside test {i}"
            breakpoint()
        print(f"after {i}")
    assert i != 2
"""


def _typing_into(suite: pytest.Pytester, typed: bytes, *args: str) -> pytest.RunResult:
    """A run in a subprocess whose stdin gets ``typed`` (for the debugger)."""
    return suite.run(
        sys.executable,
        *("-m", "pytest", DIST, "-p", "no:asyncio", "-p", "no:cacheprovider", *args),
        stdin=typed,
        timeout=60,
    )


def test_a_debugger_in_an_overlapping_test_has_the_terminal(suite: pytest.Pytester) -> None:
    """``breakpoint()`` and ``--pdb`` in a test that overlaps others: the debugger
    reads stdin and writes to the terminal, as in plain pytest, and the other
    tests' output stays in their own reports."""
    suite.makepyfile(test_debugged=DEBUGGED)
    result = _typing_into(suite, b"p here\nc\n")
    assert result.ret == 1
    assert peak_overlap(spans(suite)) == 3
    result.stdout.fnmatch_lines(
        [
            "*PDB set_trace (IO-capturing turned off)*",
            "(Pdb) 'inside test 1'",
            "*PDB continue (IO-capturing resumed)*",
            "*- Captured stdout call -*",
            "before 2",
            "after 2",
            "*1 failed, 2 passed*",
        ]
    )
    for line in ("before 0", "after 0", "before 1", "after 1"):
        assert line not in result.stdout.str()

    # --pdb: a post-mortem prompt for the failure, then the run goes on.
    result = _typing_into(suite, b"p i\nc\n", "--pdb", "-k", "not 1")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*captured stdout*",
            "before 2",
            "after 2",
            "*PDB post_mortem (IO-capturing turned off)*",
            "(Pdb) 2",
            "*PDB continue (IO-capturing resumed)*",
            "*1 failed, 1 passed*",
        ]
    )
    for line in ("before 0", "after 0"):
        assert line not in result.stdout.str()
