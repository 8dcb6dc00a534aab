"""SPEC §1, §3, §6, §7 under xdist: ``pytest -n N --dist=asyncgroup``.

Where tests ran comes from the recorder (each span names its worker) and from a
controller-side report log; concurrency from recorded start/end times. Runs that
could hang (crashes, -x) run in a subprocess with a timeout.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict

import pytest

from .conftest import events, overlaps, peak_overlap, write_ini

DIST = "--dist=asyncgroup"
HANG_GUARD = 120  # seconds; every run here takes a few

# A conftest for the inner suite: the controller logs every report it receives.
REPORT_LOG = """
import json, os
from pathlib import Path

LOG = Path(__file__).parent / "reports.jsonl"

def pytest_runtest_logreport(report):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # only what the controller receives
    line = {
        "nodeid": report.nodeid,
        "when": report.when,
        "outcome": report.outcome,
        "worker": getattr(getattr(report, "node", None), "gateway", None)
        and report.node.gateway.id,
        "longrepr": str(report.longrepr) if report.failed else "",
    }
    with LOG.open("a") as fh:
        fh.write(json.dumps(line) + "\\n")
"""


@pytest.fixture
def logged(suite: pytest.Pytester) -> pytest.Pytester:
    suite.makeconftest(REPORT_LOG)
    return suite


def reports(pytester: pytest.Pytester) -> list[dict[str, str]]:
    path = pytester.path / "reports.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def final_outcomes(pytester: pytest.Pytester) -> dict[str, list[str]]:
    """nodeid -> outcomes of its last phase (teardown, or xdist's crash report '???')."""
    finals: dict[str, list[str]] = defaultdict(list)
    failed_before: set[str] = set()
    for report in reports(pytester):
        if report["outcome"] == "failed" and report["when"] in ("setup", "call"):
            failed_before.add(report["nodeid"])
        if report["when"] in ("teardown", "???"):
            outcome = report["outcome"]
            if report["when"] == "teardown" and report["nodeid"] in failed_before:
                outcome = "failed"
            finals[report["nodeid"]].append(outcome)
    return dict(finals)


def workers_of(pytester: pytest.Pytester, prefix: str) -> dict[str, str]:
    return {str(e["test"]): str(e["worker"]) for e in events(pytester) if str(e["name"]) == prefix}


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*args, timeout=HANG_GUARD)


GROUPS_SUITE = """
import pytest
from recorder import waiting

@pytest.mark.resource("db")
@pytest.mark.parametrize("i", range(12))
async def test_db(i):
    await waiting("t", 0.3, test=f"db{i}")

@pytest.mark.resource("api")
@pytest.mark.parametrize("i", range(12))
async def test_api(i):
    await waiting("t", 0.3, test=f"api{i}")

@pytest.mark.parametrize("i", range(12))
async def test_free(i):
    await waiting("t", 0.3, test=f"free{i}")
"""


@pytest.mark.parametrize("workers", ["2", "3"])
def test_groups_stay_on_one_worker_and_spread_over_workers(
    logged: pytest.Pytester, workers: str
) -> None:
    logged.makepyfile(GROUPS_SUITE)
    result = logged.runpytest("-n", workers, DIST)
    result.assert_outcomes(passed=36)
    where = workers_of(logged, "t")
    db = {where[f"db{i}"] for i in range(12)}
    api = {where[f"api{i}"] for i in range(12)}
    assert len(db) == 1, db
    assert len(api) == 1, api
    assert db != api, "the two groups should go to different workers"
    # Tests with no keys balance the load: every worker gets 36 / workers tests.
    assert Counter(where.values()) == {f"gw{w}": 36 // int(workers) for w in range(int(workers))}
    # The reports' worker ids agree with where the tests recorded they ran.
    reported = {r["nodeid"]: r["worker"] for r in reports(logged) if r["when"] == "call"}
    assert reported["test_groups_stay_on_one_worker_and_spread_over_workers.py::test_db[0]"] in db
    # Inside each worker, its tests overlap: the 12 db tests are all in flight at once.
    db_spans = [
        (float(e["start"]), float(e["end"]))  # type: ignore[arg-type]
        for e in events(logged)
        if str(e.get("test", "")).startswith("db")
    ]
    assert peak_overlap(db_spans) == 12


def test_same_inputs_give_the_same_plan(logged: pytest.Pytester) -> None:
    logged.makepyfile(GROUPS_SUITE)
    plans = []
    for _ in range(2):
        (logged.path / "events.jsonl").unlink(missing_ok=True)
        logged.runpytest("-n", "3", DIST, "-p", "no:cacheprovider").assert_outcomes(passed=36)
        plans.append(workers_of(logged, "t"))
    assert plans[0] == plans[1]


def test_per_worker_keys_join_no_groups(logged: pytest.Pytester) -> None:
    write_ini(logged, "asyncgroup_per_worker = db", "asyncgroup_limits = db=1")
    logged.makepyfile(
        """
        import pytest
        from recorder import waiting

        @pytest.mark.resource("db")
        @pytest.mark.parametrize("i", range(8))
        async def test_db(i):
            await waiting("t", 0.2, test=f"db{i}")
        """
    )
    logged.runpytest("-n", "2", DIST).assert_outcomes(passed=8)
    where = workers_of(logged, "t")
    assert Counter(where.values()) == {"gw0": 4, "gw1": 4}
    # The key's limit still applies inside each worker.
    for worker in ("gw0", "gw1"):
        mine = [
            (float(e["start"]), float(e["end"]))  # type: ignore[arg-type]
            for e in events(logged)
            if e["worker"] == worker
        ]
        assert peak_overlap(mine) == 1


def test_groups_are_placed_longest_first_from_the_previous_runs_durations(
    logged: pytest.Pytester,
) -> None:
    logged.makepyfile(
        """
        import pytest
        from recorder import waiting

        @pytest.mark.parametrize("key", ["a", "b", "c", "d"])
        async def test_one(key):
            await waiting("t", 0.05, test=key)
        """
    )
    # The keys come from a hook here, so the test's parameter names its group.
    logged.makeconftest(
        REPORT_LOG
        + """
def pytest_asyncgroup_resources(item):
    return [item.callspec.params["key"]]
"""
    )
    # Without history, by test count: a, c -> gw0 and b, d -> gw1.
    logged.runpytest("-n", "2", DIST).assert_outcomes(passed=4)
    assert workers_of(logged, "t") == {"a": "gw0", "b": "gw1", "c": "gw0", "d": "gw1"}
    # History says "c" is long: it gets a worker to itself.
    cache = logged.path / ".pytest_cache" / "v" / "asyncgroup" / "durations"
    history = json.loads(cache.read_text())
    name = "test_groups_are_placed_longest_first_from_the_previous_runs_durations.py"
    history[f"{name}::test_one[c]"] = 30.0
    cache.write_text(json.dumps(history))
    for record in ("events.jsonl", "reports.jsonl"):
        (logged.path / record).unlink()
    logged.runpytest("-n", "2", DIST).assert_outcomes(passed=4)
    where = workers_of(logged, "t")
    assert [key for key in "abcd" if where[key] == where["c"]] == ["c"]


UNEVEN_SUITE = """
import time
import pytest
from recorder import log, sync_span

@pytest.fixture(scope="module")
def module_thing():
    log("module setup", 0, 0)
    yield
    log("module teardown", 0, 0)

@pytest.mark.resource("db")
@pytest.mark.parametrize("i", range(4))
def test_db(i):
    with sync_span("t", test=f"db{i}"):
        time.sleep(0.4)

@pytest.mark.parametrize("i", range(16))
def test_free(i, module_thing):
    with sync_span("t", test=f"free{i}"):
        time.sleep(0.1)
"""


@pytest.mark.parametrize(("workers", "planned"), [("2", 6), ("3", 3)])
def test_an_idle_worker_takes_keyless_tests_the_busiest_has_not_started(
    logged: pytest.Pytester, workers: str, planned: int
) -> None:
    # By count, the db group's worker also gets `planned` keyless tests; the db
    # tests take 1.6 s there, while the other workers are done after about 0.7 s.
    logged.makepyfile(UNEVEN_SUITE)
    result = run(logged, "-n", workers, DIST, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=20)
    where = workers_of(logged, "t")
    db_worker = {where[f"db{i}"] for i in range(4)}
    assert len(db_worker) == 1, "the db group started at once, so it stays where it is, whole"
    on_db_worker = [i for i in range(16) if where[f"free{i}"] in db_worker]
    assert len(on_db_worker) < planned, on_db_worker
    finals = final_outcomes(logged)
    assert len(finals) == 20
    assert all(outcomes == ["passed"] for outcomes in finals.values()), finals
    # A module fixture is set up once on each worker that ran the module's
    # tests, and torn down there once, stolen tests or not.
    fixture_events = Counter(
        (str(e["name"]), str(e["worker"])) for e in events(logged) if "module" in str(e["name"])
    )
    ran_free = {where[f"free{i}"] for i in range(16)}
    assert fixture_events == Counter(
        {(name, worker): 1 for worker in ran_free for name in ("module setup", "module teardown")}
    )


GROUP_MOVE_SUITE = """
import asyncio
import pytest
from recorder import span

def make_tests(key, count, seconds):
    @pytest.mark.resource(key)
    @pytest.mark.parametrize("i", range(count))
    async def test(i):
        async with span("t", test=f"{key}{i}"):
            await asyncio.sleep(seconds)
    return test

test_a = make_tests("a", 4, 0.01)
test_b = make_tests("b", 4, 0.5)
test_c = make_tests("c", 2, 0.01)
test_d = make_tests("d", 2, 0.01)
"""


def test_an_idle_worker_takes_a_whole_group_the_busiest_has_not_started(
    logged: pytest.Pytester,
) -> None:
    # By count: a and c go to gw0, b and d to gw1. With a cap of 2, gw1 runs
    # two b tests for 0.5 s while d waits; gw0 is done with a and c by then.
    logged.makepyfile(GROUP_MOVE_SUITE)
    args = ("-n", "2", DIST, "-p", "no:cacheprovider")
    run(logged, *args).assert_outcomes(passed=12)
    planned = workers_of(logged, "t")
    assert {planned["d0"], planned["d1"]} == {planned["b0"]} != {planned["a0"]}
    for record in ("events.jsonl", "reports.jsonl"):
        (logged.path / record).unlink()

    run(logged, *args, "--asyncgroup-concurrency", "2").assert_outcomes(passed=12)
    where = workers_of(logged, "t")
    for key, count in (("a", 4), ("b", 4), ("c", 2), ("d", 2)):
        assert len({where[f"{key}{i}"] for i in range(count)}) == 1, f"{key} was split"
    assert where["b0"] == planned["b0"]
    assert where["d0"] == planned["a0"], "d moved whole to the idle worker"
    finals = final_outcomes(logged)
    assert len(finals) == 12
    assert all(outcomes == ["passed"] for outcomes in finals.values()), finals


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


CRASH_SUITE = """
import asyncio, os
import pytest
from recorder import waiting

@pytest.mark.resource("k")
@pytest.mark.parametrize("i", range(4))
async def test_in_flight(i):
    await asyncio.sleep(0.5 + 0.1 * i)
    if i == 0:
        os._exit(1)  # the worker dies while test_in_flight[1-3] still wait

@pytest.mark.resource("k", exclusive=True)
async def test_not_started():
    await waiting("t", 0, test="not_started")

@pytest.mark.parametrize("i", range(4))
async def test_elsewhere(i):
    await asyncio.sleep(0.1)
"""


@pytest.mark.parametrize(
    "args",
    [["-n", "2"], ["-n", "2", "--max-worker-restart", "0"], ["-n", "1"], ["-n", "3"]],
    ids=["restarts", "no-restarts", "one-worker", "three-workers"],
)
def test_a_crash_loses_no_test(logged: pytest.Pytester, args: list[str]) -> None:
    logged.makepyfile(CRASH_SUITE)
    result = run(logged, *args, DIST, "-rf")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    finals = final_outcomes(logged)
    name = "test_a_crash_loses_no_test.py"
    expected = (
        [f"{name}::test_in_flight[{i}]" for i in range(4)]
        + [f"{name}::test_not_started"]
        + [f"{name}::test_elsewhere[{i}]" for i in range(4)]
    )
    assert sorted(finals) == sorted(expected)
    assert all(len(outcomes) == 1 for outcomes in finals.values()), finals
    for i in range(4):
        assert finals[f"{name}::test_in_flight[{i}]"] == ["failed"]
    # The test that had not started ran after all (elsewhere or on the replacement).
    assert finals[f"{name}::test_not_started"] == ["passed"]
    assert [e["test"] for e in events(logged)] == ["not_started"]
    assert all(finals[f"{name}::test_elsewhere[{i}]"] == ["passed"] for i in range(4))
    crashed = [r["longrepr"] for r in reports(logged) if r["when"] == "???"]
    assert len(crashed) == 4
    assert all("crashed while running" in text for text in crashed)


def test_a_test_that_ends_just_before_a_crash_keeps_its_result(logged: pytest.Pytester) -> None:
    # A worker sends a passing test's events together when it completes. Here
    # test_a completes, and test_b kills the worker in the same pass of the loop.
    logged.makepyfile(
        """
        import asyncio, os

        gate = None

        def opened():
            global gate
            gate = gate or asyncio.Event()
            return gate

        async def test_a_passes():
            await opened().wait()

        async def test_b_kills_the_worker():
            await opened().wait()
            os._exit(1)

        async def test_c_opens_the_gate():
            await asyncio.sleep(0.2)
            opened().set()  # wakes test_a, then test_b, in one pass
        """
    )
    result = run(logged, "-n", "1", "--max-worker-restart", "0", DIST)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    name = "test_a_test_that_ends_just_before_a_crash_keeps_its_result.py"
    assert final_outcomes(logged) == {
        f"{name}::test_a_passes": ["passed"],
        f"{name}::test_b_kills_the_worker": ["failed"],
        f"{name}::test_c_opens_the_gate": ["passed"],
    }


def test_a_crash_with_no_worker_left_reports_what_did_not_run(logged: pytest.Pytester) -> None:
    logged.makepyfile(CRASH_SUITE)
    result = run(logged, "-n", "1", "--max-worker-restart", "0", DIST)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    finals = final_outcomes(logged)
    assert finals[
        "test_a_crash_with_no_worker_left_reports_what_did_not_run.py::test_not_started"
    ] == ["failed"]
    result.stdout.fnmatch_lines(["*not run: worker 'gw0' crashed before this test started*"])
    assert len(finals) == 9
    assert all(len(outcomes) == 1 for outcomes in finals.values())


@pytest.mark.parametrize("maxfail", [["-x"], ["--maxfail", "2"]])
def test_exitfirst_cancels_in_flight_tests_on_every_worker(
    logged: pytest.Pytester, maxfail: list[str]
) -> None:
    logged.makepyfile(
        """
        import asyncio
        import pytest

        @pytest.mark.resource("a")
        async def test_fails():
            await asyncio.sleep(0.2)
            assert False

        @pytest.mark.resource("a")
        async def test_fails_too():
            await asyncio.sleep(0.3)
            assert False

        @pytest.mark.parametrize("i", range(40))
        async def test_slow(i):
            await asyncio.sleep(10)
        """
    )
    result = run(logged, "-n", "2", DIST, *maxfail, "--asyncgroup-concurrency=5")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # as plain xdist's -x
    cancelled = [r for r in reports(logged) if "cancelled by pytest-asyncgroup" in r["longrepr"]]
    started = {r["nodeid"] for r in reports(logged) if r["when"] == "setup"}
    # Each worker had 5 in flight; nothing else started, and the run did not
    # wait for the 10 s sleeps. -x cancels test_fails_too; under --maxfail 2 the
    # slot test_fails left was refilled once before test_fails_too failed.
    assert len(started) == (10 if maxfail == ["-x"] else 11)
    failed_alone = {"test_fails"} if maxfail == ["-x"] else {"test_fails", "test_fails_too"}
    assert {r["nodeid"] for r in cancelled} == {
        nodeid for nodeid in started if nodeid.rsplit("::", 1)[1] not in failed_alone
    }
    result.stdout.fnmatch_lines([f"*stopping after {1 if maxfail == ['-x'] else 2} failures*"])
    assert result.duration < 10


def test_exitfirst_reaches_a_worker_running_sync_tests_one_after_another(
    logged: pytest.Pytester,
) -> None:
    # The "a" group (sync tests that run alone, one after another) and the "b"
    # test go to different workers. "b" fails once the sync tests are under way;
    # the stop must reach their worker between two of them, not after all 200.
    logged.makepyfile(
        """
        import asyncio, time
        from pathlib import Path
        import pytest

        STARTED = Path(__file__).parent / "sync-started"

        @pytest.mark.resource("a")
        @pytest.mark.parametrize("i", range(200))
        def test_sync(monkeypatch, i):
            STARTED.touch()
            time.sleep(0.01)

        @pytest.mark.resource("b")
        async def test_fails():
            while not STARTED.exists():
                await asyncio.sleep(0.01)
            assert False
        """
    )
    result = run(logged, "-n", "2", DIST, "-x")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1
    assert outcomes.get("passed", 0) < 150  # all 200 take 2 s; a stop lands within a few
    result.stdout.fnmatch_lines(["*stopping after 1 failures*"])


def test_remote_style_tx_specs_run_the_same_plan(logged: pytest.Pytester) -> None:
    logged.makepyfile(GROUPS_SUITE)
    result = logged.runpytest("--tx", f"2*popen//python={sys.executable}", DIST)
    result.assert_outcomes(passed=36)
    where = workers_of(logged, "t")
    assert len({where[f"db{i}"] for i in range(12)}) == 1
    assert Counter(where.values()) == {"gw0": 18, "gw1": 18}


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


@pytest.mark.parametrize("workers", ["auto", "0"])
def test_other_worker_counts_are_accepted(suite: pytest.Pytester, workers: str) -> None:
    suite.makepyfile(GROUPS_SUITE)
    suite.runpytest("-n", workers, DIST).assert_outcomes(passed=36)


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
