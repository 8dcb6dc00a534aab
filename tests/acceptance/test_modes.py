"""How the mode is switched on: --dist=asyncgroup with no -n, with -n 0, and plugin loading."""

from __future__ import annotations

import pytest

from ..conftest import peak_overlap, spans

SUITE = """
import pytest
from recorder import waiting

@pytest.mark.parametrize("i", range(8))
async def test_wait(i):
    await waiting("t", 0.1)
"""


@pytest.mark.parametrize(
    "args",
    [["--dist=asyncgroup"], ["--dist=asyncgroup", "-n", "0"], ["-n0", "--dist", "asyncgroup"]],
)
def test_one_process_mode_runs_tests_concurrently(suite: pytest.Pytester, args: list[str]) -> None:
    suite.makepyfile(SUITE)
    suite.runpytest(*args).assert_outcomes(passed=8)
    assert peak_overlap(spans(suite, "t")) == 8


def test_loading_by_name_with_autoload_disabled(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    suite.makepyfile(SUITE)
    for plugins in (
        ["-p", "xdist", "-p", "pytest_asyncgroup"],
        ["-p", "pytest_asyncgroup", "-p", "xdist"],
    ):
        result = suite.runpytest_subprocess(*plugins, "--dist=asyncgroup")
        result.assert_outcomes(passed=8)


def test_without_the_mode_nothing_changes(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        async def test_async_without_a_plugin():
            pass
        """
    )
    result = suite.runpytest("-p", "no:asyncio")
    result.assert_outcomes(failed=1)  # pytest's own verdict on async tests without a plugin


ENGINE_PROBE = """
import os, sys

def pytest_sessionfinish(session):
    role = os.environ.get("PYTEST_XDIST_WORKER", "main")
    loaded = "pytest_asyncgroup._engine" in sys.modules
    print(f"engine in {role}: {loaded}")
"""


@pytest.mark.parametrize(
    ("args", "lines"),
    [
        ([], ["*engine in main: False"]),
        (["-n", "2"], ["*engine in main: False"]),  # xdist's own --dist load
        (["--dist=asyncgroup"], ["*engine in main: True"]),
        (["-n", "2", "--dist=asyncgroup"], ["*engine in main: False"]),  # the controller
    ],
    ids=["plain", "dist-load", "one-process", "controller"],
)
def test_only_processes_that_run_tests_on_the_loop_import_the_engine(
    suite: pytest.Pytester, args: list[str], lines: list[str]
) -> None:
    # Start-up cost: a pytest run that merely has the plugin installed, and the
    # controller of a distributed run, import neither the engine nor greenlet.
    suite.makeconftest(ENGINE_PROBE)
    suite.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("i", range(8))
        def test_sync(i):
            pass
        """
    )
    result = suite.runpytest_subprocess("-s", *args)
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(lines)
