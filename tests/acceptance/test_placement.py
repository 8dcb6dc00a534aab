"""Where groups of tests run, and idle workers.

README: "Across workers".
"""

from __future__ import annotations

import json
import sys
from collections import Counter

import pytest

from ..conftest import events, peak_overlap, write_ini
from .xdist_runs import DIST, GROUPS_SUITE, REPORT_LOG, final_outcomes, reports, run, workers_of


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


def test_remote_style_tx_specs_run_the_same_plan(logged: pytest.Pytester) -> None:
    logged.makepyfile(GROUPS_SUITE)
    result = logged.runpytest("--tx", f"2*popen//python={sys.executable}", DIST)
    result.assert_outcomes(passed=36)
    where = workers_of(logged, "t")
    assert len({where[f"db{i}"] for i in range(12)}) == 1
    assert Counter(where.values()) == {"gw0": 18, "gw1": 18}


@pytest.mark.parametrize("workers", ["auto", "0"])
def test_other_worker_counts_are_accepted(suite: pytest.Pytester, workers: str) -> None:
    suite.makepyfile(GROUPS_SUITE)
    suite.runpytest("-n", workers, DIST).assert_outcomes(passed=36)
