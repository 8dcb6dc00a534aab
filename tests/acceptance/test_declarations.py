"""Declaring resources, and bad declarations stopping the run at collection.

README: "Example" and "Options".
"""

from __future__ import annotations

import pytest

from pytest_asyncgroup._core.keys import Declaration
from pytest_asyncgroup._xdist.protocol import Collection

from ..conftest import events, overlaps, write_ini

DIST = "--dist=asyncgroup"


@pytest.mark.parametrize(
    ("mark", "problem"),
    [
        ("@pytest.mark.resource()", "needs at least one key"),
        ('@pytest.mark.resource("")', "resource key '' is not a non-empty string"),
        ("@pytest.mark.resource(3)", "resource key 3 is not a non-empty string"),
        ('@pytest.mark.resource("db", shared=True)', "unexpected keyword argument 'shared'"),
        ('@pytest.mark.resource("db", exclusive="yes")', "exclusive must be True or False"),
        ('@pytest.mark.serial("db")', "serial takes no arguments"),
    ],
)
def test_a_malformed_marker_stops_the_run_naming_the_test(
    suite: pytest.Pytester, mark: str, problem: str
) -> None:
    suite.makepyfile(
        f"""
        import pytest
        from recorder import log

        async def test_fine():
            log("ran", 0, 0)

        {mark}
        async def test_bad():
            log("ran", 0, 0)
        """
    )
    result = suite.runpytest(DIST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"*test_a_malformed_marker_stops_the_run_naming_the_test.py::test_bad: *{problem}*"]
    )
    assert events(suite) == []  # nothing ran, not even the good test


@pytest.mark.parametrize(
    ("lines", "option", "message"),
    [
        (["asyncgroup_limits = db=0"], [], "asyncgroup_limits (db): '0' is not a positive integer"),
        (["asyncgroup_limits = db"], [], "asyncgroup_limits: 'db' is not KEY=N"),
        (["asyncgroup_limits = db=2 db=3"], [], "key 'db' is given twice"),
        (["asyncgroup_concurrency = lots"], [], "asyncgroup_concurrency: 'lots' is not a positive"),
        ([], ["--asyncgroup-concurrency=0"], "--asyncgroup-concurrency: '0' is not a positive"),
    ],
)
def test_a_bad_setting_stops_the_run_naming_the_setting(
    suite: pytest.Pytester, lines: list[str], option: list[str], message: str
) -> None:
    write_ini(suite, *lines)
    suite.makepyfile("async def test_fine(): pass")
    result = suite.runpytest(DIST, *option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_markers_are_registered_for_strict_markers(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest

        @pytest.mark.resource("db", exclusive=True)
        @pytest.mark.serial
        def test_marked():
            pass
        """
    )
    suite.runpytest("--strict-markers").assert_outcomes(passed=1)
    suite.runpytest("--strict-markers", DIST).assert_outcomes(passed=1)


def test_class_and_module_marks_stack_with_function_marks(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        from recorder import waiting

        pytestmark = pytest.mark.resource("db")

        @pytest.mark.resource("cache", exclusive=True)
        class TestStacked:
            async def test_a(self):
                await waiting("a", 0.1)

            @pytest.mark.resource("queue")
            async def test_b(self):
                await waiting("b", 0.1)

        async def test_db_only():
            await waiting("db_only", 0.1)
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=3)
    recorded = {e["name"]: (e["start"], e["end"]) for e in events(suite)}
    # a and b both hold cache exclusively (class mark): they never overlap;
    # db_only shares db with both and holds no cache: it overlaps them.
    assert not overlaps(recorded["a"], recorded["b"])
    assert overlaps(recorded["db_only"], recorded["a"])


def test_the_resources_hook_adds_keys(suite: pytest.Pytester) -> None:
    suite.makeconftest(
        """
        def pytest_asyncgroup_resources(item):
            if "db_session" in item.fixturenames:
                return ["db"]
        """
    )
    write_ini(suite, "asyncgroup_limits = db=1")
    suite.makepyfile(
        """
        import pytest
        from recorder import waiting

        @pytest.fixture
        def db_session():
            return "session"

        @pytest.mark.parametrize("i", range(3))
        async def test_db(db_session, i):
            await waiting(f"db{i}", 0.05)
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=3)
    recorded = [(e["start"], e["end"]) for e in events(suite)]
    assert not any(overlaps(a, b) for a in recorded for b in recorded if a is not b)


def test_a_bad_key_from_the_hook_names_the_hook_and_the_test(suite: pytest.Pytester) -> None:
    suite.makeconftest(
        """
        def pytest_asyncgroup_resources(item):
            return [None]
        """
    )
    suite.makepyfile("async def test_any(): pass")
    result = suite.runpytest(DIST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_any: pytest_asyncgroup_resources hook: resource key None*"])


def test_the_collection_message_carries_only_declared_tests_and_loads_back() -> None:
    declared = Declaration(frozenset({"db"}), frozenset({"queue"}), serial=False)
    collection = Collection(
        (Declaration(), declared, Declaration(serial=True), Declaration()), ("a problem",)
    )
    message = collection.dump()
    assert [entry[0] for entry in message["declared"]] == [1, 2]  # by collection index
    assert Collection.load(message) == collection
