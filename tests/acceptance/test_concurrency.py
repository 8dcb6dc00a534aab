"""What may run at the same time, proven from recorded start/end times.

README: "What may run at the same time".
"""

from __future__ import annotations

import importlib.util

import pytest

from ..conftest import events, overlaps, peak_overlap, spans, write_ini

DIST = "--dist=asyncgroup"


def test_async_tests_all_overlap_under_the_default_cap(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        from recorder import waiting

        @pytest.mark.parametrize("i", range(50))
        async def test_wait(i):
            await waiting("t")
        """
    )
    result = suite.runpytest(DIST)
    result.assert_outcomes(passed=50)
    assert peak_overlap(spans(suite, "t")) == 50


@pytest.mark.parametrize("how", ["option", "ini"])
def test_the_concurrency_cap_is_reached_and_never_exceeded(
    suite: pytest.Pytester, how: str
) -> None:
    suite.makepyfile(
        """
        import pytest
        from recorder import waiting

        @pytest.mark.parametrize("i", range(30))
        async def test_wait(i):
            await waiting("t", 0.1)
        """
    )
    if how == "option":
        result = suite.runpytest(DIST, "--asyncgroup-concurrency=7")
    else:
        write_ini(suite, "asyncgroup_concurrency = 7")
        result = suite.runpytest(DIST)
    result.assert_outcomes(passed=30)
    assert peak_overlap(spans(suite, "t")) == 7


def test_shared_key_holders_overlap_up_to_the_limit(suite: pytest.Pytester) -> None:
    write_ini(suite, "asyncgroup_limits = db=3 api=100")
    suite.makepyfile(
        """
        import pytest
        from recorder import waiting

        @pytest.mark.resource("db")
        @pytest.mark.parametrize("i", range(12))
        async def test_db(i):
            await waiting("db", 0.1)

        @pytest.mark.resource("api")
        @pytest.mark.parametrize("i", range(12))
        async def test_api(i):
            await waiting("api", 0.1)
        """
    )
    result = suite.runpytest(DIST)
    result.assert_outcomes(passed=24)
    assert peak_overlap(spans(suite, "db")) == 3
    assert peak_overlap(spans(suite, "api")) == 12


def test_exclusive_holders_never_overlap_other_holders(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        from recorder import waiting

        @pytest.mark.resource("db")
        @pytest.mark.parametrize("i", range(6))
        async def test_reader(i):
            await waiting(f"reader{i}", 0.1)

        @pytest.mark.resource("db", exclusive=True)
        @pytest.mark.parametrize("i", range(3))
        async def test_writer(i):
            await waiting(f"writer{i}", 0.1)

        @pytest.mark.parametrize("i", range(4))
        async def test_free(i):
            await waiting(f"free{i}", 0.3)
        """
    )
    result = suite.runpytest(DIST)
    result.assert_outcomes(passed=13)
    recorded = {e["name"]: (e["start"], e["end"]) for e in events(suite)}
    writers = [v for k, v in recorded.items() if k.startswith("writer")]
    holders = [v for k, v in recorded.items() if k.startswith(("writer", "reader"))]
    for writer in writers:
        assert sum(overlaps(writer, other) for other in holders) == 1  # only itself
    assert peak_overlap(v for k, v in recorded.items() if k.startswith("reader")) == 6
    # a test with no keys overlaps the exclusive holders
    free = [v for k, v in recorded.items() if k.startswith("free")]
    assert any(overlaps(f, w) for f in free for w in writers)


@pytest.mark.parametrize("args", [[], ["-n", "2"]], ids=["one-process", "two-workers"])
def test_sync_tests_without_keys_run_alone(suite: pytest.Pytester, args: list[str]) -> None:
    # Consecutive sync tests run one after another in one task of the loop; the
    # async tests before and after them overlap none of them.
    suite.makepyfile(
        """
        import time
        import pytest
        from recorder import waiting, sync_span

        @pytest.mark.parametrize("i", range(6))
        async def test_before(i):
            await waiting(f"before{i}", 0.1)

        @pytest.mark.parametrize("i", range(30))
        def test_sync(i):
            with sync_span(f"sync{i}"):
                time.sleep(0.005)

        @pytest.mark.parametrize("i", range(6))
        async def test_after(i):
            await waiting(f"after{i}", 0.1)
        """
    )
    result = suite.runpytest(DIST, *args)
    result.assert_outcomes(passed=42)
    recorded = [(str(e["name"]), (e["start"], e["end"]), e["worker"]) for e in events(suite)]
    assert len(recorded) == 42
    for name, interval, worker in recorded:
        if name.startswith("sync"):
            beside = [n for n, i, w in recorded if w == worker and overlaps(interval, i)]
            assert beside == [name]
    for prefix in ("before", "after"):  # the async tests still overlap each other
        by_worker: dict[object, list[tuple[float, float]]] = {}
        for name, interval, worker in recorded:
            if name.startswith(prefix):
                by_worker.setdefault(worker, []).append(interval)
        assert max(peak_overlap(intervals) for intervals in by_worker.values()) >= 3


def test_sync_tests_with_keys_follow_the_key_rules(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import time
        import pytest
        from recorder import waiting, sync_span

        @pytest.mark.resource("other")
        async def test_async():
            await waiting("async", 0.3)

        @pytest.mark.resource("db")
        def test_sync_db():  # blocks the loop while the async test waits
            with sync_span("sync"):
                time.sleep(0.2)
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=2)
    recorded = {e["name"]: (e["start"], e["end"]) for e in events(suite)}
    assert overlaps(recorded["sync"], recorded["async"])


def test_serial_tests_run_while_nothing_else_runs(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        from recorder import waiting

        @pytest.mark.parametrize("i", range(8))
        async def test_a(i):
            await waiting(f"a{i}", 0.1)

        @pytest.mark.serial
        async def test_serial():
            await waiting("serial", 0.1)

        @pytest.mark.parametrize("i", range(8))
        async def test_b(i):
            await waiting(f"b{i}", 0.1)
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=17)
    recorded = {e["name"]: (e["start"], e["end"]) for e in events(suite)}
    alone = recorded.pop("serial")
    assert not any(overlaps(alone, other) for other in recorded.values())
    assert peak_overlap(recorded.values()) == 16


def test_tests_using_process_wide_fixtures_run_alone(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        from recorder import waiting

        @pytest.fixture
        def my_global_state():
            yield

        @pytest.mark.parametrize("i", range(4))
        async def test_patching(monkeypatch, i):
            await waiting(f"patch{i}", 0.05)

        async def test_custom(my_global_state):
            await waiting("custom", 0.05)

        @pytest.mark.parametrize("i", range(4))
        async def test_free(i):
            await waiting(f"free{i}", 0.2)
        """
    )
    write_ini(suite, "asyncgroup_alone_fixtures = monkeypatch my_global_state")
    suite.runpytest(DIST).assert_outcomes(passed=9)
    recorded = {e["name"]: (e["start"], e["end"]) for e in events(suite)}
    for name, interval in recorded.items():
        if name.startswith(("patch", "custom")):
            assert [o for o, i in recorded.items() if overlaps(interval, i)] == [name]


def test_per_worker_key_rules_apply_within_the_process(suite: pytest.Pytester) -> None:
    write_ini(suite, "asyncgroup_per_worker = db", "asyncgroup_limits = db=2")
    suite.makepyfile(
        """
        import pytest
        from recorder import waiting

        @pytest.mark.resource("db")
        @pytest.mark.parametrize("i", range(6))
        async def test_db(i):
            await waiting("db", 0.1)
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=6)
    assert peak_overlap(spans(suite, "db")) == 2


def test_key_holders_keep_their_keys_through_fixture_setup_and_teardown(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(
        """
        import asyncio, time
        import pytest
        from recorder import log

        @pytest.fixture
        async def conn(request):
            start = time.perf_counter()
            await asyncio.sleep(0.05)
            yield
            await asyncio.sleep(0.05)
            log(request.node.name, start, time.perf_counter())

        @pytest.mark.resource("db", exclusive=True)
        @pytest.mark.parametrize("i", range(4))
        async def test_db(conn, i):
            await asyncio.sleep(0.01)
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=4)
    assert peak_overlap(spans(suite)) == 1


def test_a_test_admitted_as_another_ends_does_not_inherit_its_context(
    suite: pytest.Pytester,
) -> None:
    # The worker admits the next test from the step in which one ends; the new
    # test's task must start from the loop's context, as in a plain run, not a
    # copy of the ending test's (its ContextVars, and the engine's own).
    suite.makepyfile(
        """
        import asyncio, contextvars
        import pytest

        var = contextvars.ContextVar("var", default="unset")

        @pytest.mark.parametrize("i", range(6))
        async def test_sets_a_context_var(i):
            assert var.get() == "unset"
            var.set(f"test {i}")
            await asyncio.sleep(0.02 * (i % 3))
            assert var.get() == f"test {i}"
        """
    )
    runs = [[DIST, "--asyncgroup-concurrency=2"], [DIST, "-n", "2"]]
    if importlib.util.find_spec("pytest_asyncio") is not None:
        write_ini(suite, "asyncio_mode = auto")
        runs.append([])  # plain pytest-asyncio: the same outcomes
    for args in runs:
        suite.runpytest(*args).assert_outcomes(passed=6)
