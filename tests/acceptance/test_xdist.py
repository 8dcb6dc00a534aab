"""Serial tests, session fixtures, ids, bad input, loading.

README: "Across workers".
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from ..conftest import events, overlaps
from .xdist_runs import DIST, GROUPS_SUITE, final_outcomes, reports, run, workers_of


def test_serial_tests_overlap_no_test_on_any_worker(logged: pytest.Pytester) -> None:
    logged.makepyfile(
        """
        import pytest
        from recorder import waiting, sync_span
        import time

        @pytest.mark.parametrize("i", range(16))
        async def test_async(i):
            await waiting("t", 0.2, test=f"a{i}")

        @pytest.mark.serial
        @pytest.mark.parametrize("i", range(2))
        def test_serial(i):
            with sync_span("serial", test=f"s{i}"):
                time.sleep(0.1)

        @pytest.mark.resource("x")
        @pytest.mark.parametrize("i", range(6))
        async def test_keyed(i):
            await waiting("t", 0.2, test=f"x{i}")
        """
    )
    logged.runpytest("-n", "3", DIST).assert_outcomes(passed=24)
    spans = [(float(e["start"]), float(e["end"]), e["name"]) for e in events(logged)]  # type: ignore[arg-type]
    serial = [s[:2] for s in spans if s[2] == "serial"]
    others = [s[:2] for s in spans if s[2] != "serial"]
    assert len(serial) == 2
    assert len(others) == 22
    assert len({str(e["worker"]) for e in events(logged) if e["name"] == "t"}) == 3
    for span in serial:
        assert not any(overlaps(span, other) for other in others + [s for s in serial if s != span])


def test_session_fixtures_once_per_worker_and_teardown_errors_reported(
    logged: pytest.Pytester,
) -> None:
    logged.makepyfile(
        """
        import pytest
        from recorder import log, waiting

        @pytest.fixture(scope="session")
        def service():
            log("service-up", 0, 0)
            yield
            raise RuntimeError("service teardown failed")

        @pytest.mark.parametrize("i", range(10))
        async def test_uses_service(service, i):
            await waiting("t", 0.1, test=str(i))
        """
    )
    result = logged.runpytest("-n", "2", DIST)
    # Each worker's session fixture is set up once and torn down in its last
    # test's teardown, as with plain xdist: one teardown error per worker.
    result.assert_outcomes(passed=10, errors=2)
    ups = Counter(str(e["worker"]) for e in events(logged) if e["name"] == "service-up")
    assert ups == {"gw0": 1, "gw1": 1}
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_uses_service*", "*service teardown failed*"]
    )
    finals = final_outcomes(logged)
    assert len(finals) == 10
    assert all(len(outcomes) == 1 for outcomes in finals.values())


def test_nodeids_and_junit_ids_are_those_of_plain_pytest(logged: pytest.Pytester) -> None:
    logged.makepyfile(
        """
        import pytest

        @pytest.mark.resource("db")
        @pytest.mark.parametrize("i", range(3))
        async def test_db(i):
            assert i != 1

        class TestThings:
            @pytest.mark.resource("api", exclusive=True)
            async def test_method(self):
                pass
        """
    )

    def junit_ids(*args: str) -> list[tuple[str, str]]:
        logged.runpytest(*args, "--junitxml=junit.xml")
        root = ET.parse(logged.path / "junit.xml").getroot()
        return sorted((c.get("classname", ""), c.get("name", "")) for c in root.iter("testcase"))

    plain = junit_ids("-p", "no:asyncgroup")
    ours = junit_ids("-n", "2", DIST)
    assert ours == plain
    assert len(ours) == 4
    # --lf picks the failed test by its unchanged nodeid.
    result = logged.runpytest("-n", "2", DIST, "--lf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*2 workers [[]1 item[]]*"])


def test_malformed_declarations_stop_the_distributed_run(logged: pytest.Pytester) -> None:
    logged.makepyfile(
        """
        import pytest

        @pytest.mark.resource("db", limit=3)
        async def test_bad():
            pass

        async def test_good():
            pass
        """
    )
    result = run(logged, "-n", "2", DIST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*problems found at collection, nothing was run*", "*test_bad: *'limit'*"]
    )
    assert reports(logged) == []


def test_loaded_by_name_with_autoload_disabled(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    suite.makepyfile(GROUPS_SUITE)
    result = run(suite, "-p", "pytest_asyncgroup", "-p", "xdist", "-n", "2", DIST)
    result.assert_outcomes(passed=36)
    assert set(workers_of(suite, "t").values()) == {"gw0", "gw1"}


def test_workers_that_collect_different_tests_stop_the_run(logged: pytest.Pytester) -> None:
    logged.makepyfile(
        """
        import os
        import pytest

        @pytest.mark.parametrize("pid", [os.getpid()])  # a different id on each worker
        async def test_depends_on_the_worker(pid):
            pass
        """
    )
    result = run(logged, "-n", "2", DIST)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # one collection error
    # Whichever worker collected second is the one left without tests.
    result.stdout.fnmatch_lines(
        [
            "*worker 'gw?' gets no tests: --dist=asyncgroup needs every worker to collect "
            "the same tests in the same order*",
            "*Different tests were collected between gw? and gw?*",
        ]
    )
    assert reports(logged) == []
