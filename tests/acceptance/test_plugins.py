"""Issue 4 item 6: plugins people run beside us (and anyio's plugin).

Each test is skipped where its plugin is not installed; the newest nox session
and ``.[dev]`` install them all. pytest-asyncio's ``loop_scope`` arguments are
covered in ``test_pytest_asyncio.py``.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from ..conftest import events, peak_overlap, spans

DIST = "--dist=asyncgroup"
MODES = [pytest.param([], id="one-process"), pytest.param(["-n", "2"], id="n2")]


@pytest.mark.parametrize("mode", MODES)
def test_rerunfailures_reruns_a_failing_concurrent_test(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    pytest.importorskip("pytest_rerunfailures")
    suite.makepyfile(
        test_flaky="""
        import asyncio
        from pathlib import Path
        import pytest
        from recorder import span

        @pytest.fixture
        async def attempts(request):
            path = Path(__file__).parent / f"attempts-{request.node.name}"
            count = int(path.read_text()) + 1 if path.exists() else 1
            path.write_text(str(count))
            await asyncio.sleep(0.02)
            yield count

        @pytest.mark.parametrize("i", range(4))
        async def test_flaky(attempts, i):
            async with span(f"flaky{i}"):
                await asyncio.sleep(0.1)
            assert attempts >= 2, "fails the first time"

        @pytest.mark.parametrize("i", range(4))
        async def test_steady(i):
            async with span(f"steady{i}"):
                await asyncio.sleep(0.1)
        """
    )
    result = suite.runpytest(DIST, *mode, "--reruns", "2")
    outcomes = result.parseoutcomes()
    assert (outcomes.get("passed"), outcomes.get("rerun"), outcomes.get("failed")) == (8, 4, None)
    assert peak_overlap(spans(suite)) >= 4


def test_coverage_is_measured_in_concurrent_tests_on_workers(suite: pytest.Pytester) -> None:
    pytest.importorskip("pytest_cov")
    suite.makepyfile(
        measured="""
        import asyncio

        async def branch(flag):
            await asyncio.sleep(0.02)
            if flag:
                return "yes"
            return "no"
        """,
        test_cov="""
        import pytest
        import measured

        @pytest.mark.parametrize("flag", [True, False] * 4)
        async def test_branch(flag):
            assert await measured.branch(flag) == ("yes" if flag else "no")
        """,
    )
    result = suite.runpytest_subprocess(
        DIST, "-n", "2", "--cov=measured", "--cov-report=term-missing", timeout=120
    )
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["measured.py * 0 * 100%*"])


def test_randomly_reordering_keeps_groups_on_one_worker(suite: pytest.Pytester) -> None:
    pytest.importorskip("pytest_randomly")
    suite.makepyfile(
        test_groups="""
        import pytest
        from recorder import waiting

        @pytest.mark.resource("db")
        @pytest.mark.parametrize("i", range(8))
        async def test_db(i):
            await waiting(f"db{i}", 0.05, key="db")

        @pytest.mark.resource("queue")
        @pytest.mark.parametrize("i", range(8))
        async def test_queue(i):
            await waiting(f"queue{i}", 0.05, key="queue")
        """
    )
    for seed in ("1", "2", "3"):
        (suite.path / "events.jsonl").unlink(missing_ok=True)
        result = suite.runpytest(DIST, "-n", "2", "-p", "randomly", f"--randomly-seed={seed}")
        result.assert_outcomes(passed=16)
        result.stdout.fnmatch_lines([f"*randomly-seed={seed}*"])
        workers: dict[str, set[str]] = defaultdict(set)
        for event in events(suite):
            workers[str(event["key"])].add(str(event["worker"]))
        assert all(len(ids) == 1 for ids in workers.values()), (seed, json.dumps(workers))
        assert workers["db"] != workers["queue"]


@pytest.mark.parametrize("mode", MODES)
def test_anyio_tests_run_on_their_backend_and_asyncio_ones_overlap(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    """anyio's plugin runs each ``anyio``-marked test on the backend its
    ``anyio_backend`` fixture names; the asyncio ones overlap on the worker loop,
    the trio ones run with anyio's runner, as in a plain run."""
    pytest.importorskip("anyio")
    pytest.importorskip("trio")
    suite.makepyfile(
        test_backends="""
        import anyio, pytest, sniffio
        from recorder import span

        pytestmark = pytest.mark.anyio

        @pytest.fixture(params=["asyncio", "trio"])
        def anyio_backend(request):
            return request.param

        @pytest.fixture
        async def library(anyio_backend):
            await anyio.sleep(0.01)
            yield sniffio.current_async_library()
            await anyio.sleep(0.01)

        @pytest.mark.parametrize("i", range(4))
        async def test_backend(library, anyio_backend, i):
            async with span(f"{anyio_backend}-{i}"):
                await anyio.sleep(0.2)
                assert sniffio.current_async_library() == anyio_backend
            assert library == anyio_backend
        """
    )
    result = suite.runpytest_subprocess(DIST, *mode)
    result.assert_outcomes(passed=8)
    assert peak_overlap(spans(suite, "asyncio-")) >= 2
    trio_by_worker: defaultdict[str, list[tuple[float, float]]] = defaultdict(list)
    for event in events(suite):
        if str(event["name"]).startswith("trio-"):
            trio_by_worker[str(event["worker"])].append(
                (float(event["start"]), float(event["end"]))  # type: ignore[arg-type]
            )
    assert sum(map(len, trio_by_worker.values())) == 4
    for intervals in trio_by_worker.values():  # anyio's runner: one at a time in a worker
        assert peak_overlap(intervals) == 1
