"""pytest-asyncio's loop factories make the worker's loop, when the tests agree on one.

docs/how-to/uvloop.md. The loop here is a pure-Python ``SelectorEventLoop``
subclass, so these tests need no uvloop; ``test_uvloop.py`` runs uvloop's.
"""

from __future__ import annotations

import pytest

from ..conftest import events, peak_overlap, spans, write_ini

pytest_asyncio = pytest.importorskip("pytest_asyncio")
if not hasattr(pytest_asyncio.plugin, "_collect_hook_loop_factories"):
    pytest.skip("this pytest-asyncio has no loop factories (1.4+)", allow_module_level=True)

DIST = "--dist=asyncgroup"
MODES = pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["one-process", "n2"])

CUSTOM = """
import asyncio

class CustomLoop(asyncio.SelectorEventLoop):
    pass

class OtherLoop(asyncio.SelectorEventLoop):
    pass
"""

OVERLAPPING = """
import asyncio
import time

import pytest
import pytest_asyncio
from recorder import log

@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def session_loop_type():
    return type(asyncio.get_running_loop()).__name__

@pytest.mark.asyncio
@pytest.mark.parametrize("i", range(4))
async def test_overlapping(session_loop_type, i):
    start = time.perf_counter()
    await asyncio.sleep(0.2)
    running = type(asyncio.get_running_loop()).__name__
    log("t", start, time.perf_counter(), loop=running, session=session_loop_type)

def test_sync_sees_the_worker_s_loop():
    log("sync", 0, 0, loop=type(asyncio.get_event_loop()).__name__)
"""


@MODES
def test_one_factory_from_the_hook_makes_the_worker_s_loop(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makeconftest(
        CUSTOM
        + """
def pytest_asyncio_loop_factories(config, item):
    return {"custom": CustomLoop}
"""
    )
    suite.makepyfile(test_loops=OVERLAPPING)
    suite.runpytest(DIST, *mode).assert_outcomes(passed=5)
    assert peak_overlap(spans(suite, "t")) >= 2
    recorded = events(suite)
    assert {e["loop"] for e in recorded} == {"CustomLoop"}
    assert {e["session"] for e in recorded if e["name"] == "t"} == {"CustomLoop"}


def test_test_ids_are_pytest_asyncio_s_with_one_factory(suite: pytest.Pytester) -> None:
    suite.makeconftest(
        CUSTOM
        + """
def pytest_asyncio_loop_factories(config, item):
    return {"custom": CustomLoop}
"""
    )
    suite.makepyfile(test_loops=OVERLAPPING)
    plain = suite.runpytest("--collect-only", "-q").outlines
    ours = suite.runpytest(DIST, "--collect-only", "-q").outlines
    ids = [line for line in plain if "::" in line]
    assert len(ids) == 5
    assert ids == [line for line in ours if "::" in line]
    if hasattr(pytest, "HIDDEN_PARAM"):  # pytest 8.4+: pytest-asyncio hides a lone id
        assert "test_loops.py::test_overlapping[0]" in ids


def test_the_asyncio_mark_chooses_the_one_factory(suite: pytest.Pytester) -> None:
    suite.makeconftest(
        CUSTOM
        + """
def pytest_asyncio_loop_factories(config, item):
    return {"other": OtherLoop, "custom": CustomLoop}
"""
    )
    marked = '@pytest.mark.asyncio(loop_factories=["custom"])\n'
    suite.makepyfile(test_loops=OVERLAPPING.replace("@pytest.mark.asyncio\n", marked))
    suite.runpytest(DIST).assert_outcomes(passed=5)
    assert {e["loop"] for e in events(suite)} == {"CustomLoop"}


def test_tests_run_once_per_factory_are_refused_unless_one_is_selected(
    suite: pytest.Pytester,
) -> None:
    suite.makeconftest(
        CUSTOM
        + """
def pytest_asyncio_loop_factories(config, item):
    # a new lambda for each test: the same factory all the same
    return {"other": lambda: OtherLoop(), "custom": lambda: CustomLoop()}
"""
    )
    suite.makepyfile(test_loops=OVERLAPPING)
    result = suite.runpytest(DIST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*nothing was run*",
            "*test_loops.py::test_overlapping[[]other-0[]] and 7 more: pytest-asyncio runs "
            "these tests once per loop factory ('other', 'custom')*select the variants of "
            "one factory (-k)*",
        ]
    )
    assert "test_sync" not in result.stderr.str()
    assert not events(suite)

    suite.runpytest(DIST, "-n", "2", "-k", "custom or worker_s_loop").assert_outcomes(passed=5)
    assert {e["loop"] for e in events(suite)} == {"CustomLoop"}


def test_tests_asking_for_different_loops_are_refused_naming_them(
    suite: pytest.Pytester,
) -> None:
    suite.makeconftest(
        CUSTOM
        + """
def pytest_asyncio_loop_factories(config, item):
    return {"other": OtherLoop, "custom": CustomLoop}
"""
    )
    suite.makepyfile(
        test_marked="""
        import pytest

        @pytest.mark.asyncio(loop_factories=["custom"])
        async def test_custom():
            pass

        @pytest.mark.asyncio(loop_factories=["other"])
        async def test_other():
            pass

        @pytest.mark.asyncio(loop_factories=["missing"])
        async def test_skipped_by_pytest_asyncio():
            pass
        """
    )
    # A directory whose conftest says nothing about factories: pytest-asyncio
    # runs its tests on its default loop. (A hook returning None is an error.)
    sub = suite.mkpydir("sub")
    (sub / "conftest.py").write_text(
        "import pytest\n\n"
        "@pytest.hookimpl(tryfirst=True)\n"
        "def pytest_asyncio_loop_factories(config, item):\n"
        "    import asyncio\n"
        "    return {'default': asyncio.new_event_loop}\n"
    )
    (sub / "test_default.py").write_text(
        "import pytest\n\n@pytest.mark.asyncio\nasync def test_on_the_default():\n    pass\n"
    )
    for mode in ([], ["-n", "2"]):
        result = suite.runpytest(DIST, *mode)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(
            [
                "*the tests ask for different event loops: "
                "'default' (sub/test_default.py::test_on_the_default); "
                "'custom' (test_marked.py::test_custom); "
                "'other' (test_marked.py::test_other).*one loop per worker*"
            ]
        )
        assert "test_skipped_by_pytest_asyncio" not in result.stderr.str()

    suite.runpytest(DIST, "-k", "custom").assert_outcomes(passed=1, deselected=3)


def test_tests_the_hook_does_not_apply_to_are_named_for_the_default_loop(
    suite: pytest.Pytester,
) -> None:
    write_ini(suite, "asyncio_mode = auto")
    suite.makepyfile(test_top="async def test_top():\n    pass\n")
    sub = suite.mkpydir("sub")
    (sub / "conftest.py").write_text(
        CUSTOM + "\ndef pytest_asyncio_loop_factories(config, item):\n"
        "    return {'custom': CustomLoop}\n"
    )
    (sub / "test_sub.py").write_text("async def test_sub():\n    pass\n")
    result = suite.runpytest(DIST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*different event loops: 'custom' (sub/test_sub.py::test_sub); "
            "pytest-asyncio's default loop (test_top.py::test_top: the hook does not "
            "apply to them)*"
        ]
    )
    suite.runpytest(DIST, "sub").assert_outcomes(passed=1)


def test_what_the_loop_s_own_methods_set_is_the_loop_s_state(suite: pytest.Pytester) -> None:
    """A suite's loop class keeps state for its tests (aiostream's counts steps):
    its own methods set it on the loop, for every test; a test's code setting
    the same attribute sets its own overlay (README: "Patching the loop")."""
    suite.makeconftest(
        """
import asyncio

class CountingLoop(asyncio.SelectorEventLoop):
    def __init__(self):
        super().__init__()
        self.count = 5

    def reset(self):
        self.count = 0

def pytest_asyncio_loop_factories(config, item):
    return {"counting": CountingLoop}
"""
    )
    suite.makepyfile(
        test_counting="""
        import asyncio
        import pytest

        @pytest.mark.serial
        @pytest.mark.asyncio
        async def test_1_resets_it():
            asyncio.get_running_loop().reset()

        @pytest.mark.serial
        @pytest.mark.asyncio
        async def test_2_sets_its_own():
            loop = asyncio.get_running_loop()
            assert loop.count == 0
            loop.count = 7
            assert loop.count == 7

        @pytest.mark.serial
        @pytest.mark.asyncio
        async def test_3_sees_the_loop_s():
            assert asyncio.get_running_loop().count == 0
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=3)


@MODES
def test_a_factory_that_makes_no_event_loop_stops_the_run_saying_so(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makeconftest(
        """
class NotALoop:
    pass

def pytest_asyncio_loop_factories(config, item):
    return {"broken": NotALoop}
"""
    )
    suite.makepyfile(test_loops=OVERLAPPING)
    result = suite.runpytest(DIST, *mode)
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    result.stdout.fnmatch_lines(
        [
            "*TypeError: pytest-asyncgroup: the loop factory *NotALoop* made a 'NotALoop', "
            "not an asyncio event loop*"
        ]
    )
    assert not events(suite)
