"""Fixtures behave as in plain pytest while their tests overlap.

README: "What may run at the same time".
"""

from __future__ import annotations

import pytest

from ..conftest import events, peak_overlap, write_ini

DIST = "--dist=asyncgroup"


def test_function_scoped_values_stay_with_their_test(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import asyncio
        import pytest

        torn_down = []

        @pytest.fixture
        async def token(request):
            value = request.node.name
            await asyncio.sleep(0.05)
            yield value
            await asyncio.sleep(0.02)
            torn_down.append((request.node.name, value))

        @pytest.fixture(params=["a", "b"])
        def flavour(request):
            return request.param

        @pytest.mark.parametrize("i", range(20))
        async def test_own_value(token, flavour, request, i):
            await asyncio.sleep(0.05)
            assert token == request.node.name
            assert flavour in request.node.name
            dynamic = request.getfixturevalue("token")
            assert dynamic == token

        def test_each_teardown_finalized_its_own_value():
            assert len(torn_down) == 40
            assert all(name == value for name, value in torn_down)
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=41)


def test_dynamic_getfixturevalue_is_per_test(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import asyncio, itertools
        import pytest

        counter = itertools.count()

        @pytest.fixture
        def later():
            return next(counter)

        @pytest.mark.parametrize("i", range(10))
        async def test_dynamic(request, i):
            await asyncio.sleep(0.02)
            first = request.getfixturevalue("later")
            await asyncio.sleep(0.02)
            assert request.getfixturevalue("later") == first

        def test_one_value_per_test():
            assert next(counter) == 10
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=11)


def test_getfixturevalue_of_an_async_fixture_from_async_code_fails_clearly(
    suite: pytest.Pytester,
) -> None:
    """From a coroutine it would block the loop the fixture needs (pytest-asyncio
    cannot either); from sync code, or once set up, it works."""
    suite.makepyfile(
        """
        import asyncio
        import pytest

        @pytest.fixture
        async def conn():
            await asyncio.sleep(0.01)
            yield "conn"

        @pytest.fixture
        def by_name(request):
            return request.getfixturevalue("conn")

        async def test_from_the_body(request):
            await asyncio.sleep(0.01)
            request.getfixturevalue("conn")

        async def test_through_a_sync_fixture(by_name):
            assert by_name == "conn"

        async def test_already_set_up(request, conn):
            assert request.getfixturevalue("conn") == conn

        def test_from_a_sync_test(request):
            assert request.getfixturevalue("conn") == "conn"
        """
    )
    result = suite.runpytest(DIST)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_from_the_body _*",
            "pytest-asyncgroup: the async fixture 'conn' was requested with "
            "request.getfixturevalue() from async code (an async test or fixture)*",
        ]
    )


def test_async_fixture_setups_and_teardowns_overlap(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import asyncio, time
        import pytest
        from recorder import log

        @pytest.fixture
        async def slow(request):
            start = time.perf_counter()
            await asyncio.sleep(0.2)
            log("setup", start, time.perf_counter())
            yield
            start = time.perf_counter()
            await asyncio.sleep(0.1)
            log("teardown", start, time.perf_counter())

        @pytest.mark.parametrize("i", range(20))
        async def test_x(slow, i):
            pass
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=20)
    recorded = events(suite)
    setups = [(e["start"], e["end"]) for e in recorded if e["name"] == "setup"]
    teardowns = [(e["start"], e["end"]) for e in recorded if e["name"] == "teardown"]
    assert peak_overlap(setups) == 20
    assert peak_overlap(teardowns) == 20


def test_higher_scoped_fixtures_are_set_up_once_and_torn_down_after_their_last_user(
    suite: pytest.Pytester,
) -> None:
    suite.makeconftest(
        """
        import asyncio
        import pytest

        LOG = []

        @pytest.fixture(scope="session")
        async def service():
            LOG.append("session up")
            await asyncio.sleep(0.05)
            yield "service"
            await asyncio.sleep(0.01)
            LOG.append("session down")

        def pytest_sessionfinish(session):
            print("\\nLOG:", LOG)
        """
    )
    suite.makepyfile(
        test_one="""
        import asyncio
        import pytest
        from conftest import LOG

        @pytest.fixture(scope="module")
        async def conn(service):
            LOG.append("one up")
            await asyncio.sleep(0.05)
            yield service + "/conn"
            LOG.append("one down")

        class TestGroup:
            @pytest.fixture(scope="class")
            def table(self, conn):
                LOG.append("class up")
                yield conn + "/table"
                LOG.append("class down")

            @pytest.mark.parametrize("i", range(5))
            async def test_in_class(self, table, i):
                await asyncio.sleep(0.05)
                assert table == "service/conn/table"

        @pytest.mark.parametrize("i", range(5))
        async def test_module(conn, i):
            await asyncio.sleep(0.1)
            assert conn == "service/conn"
        """,
        test_two="""
        import asyncio
        import pytest
        from conftest import LOG

        @pytest.mark.parametrize("i", range(5))
        async def test_two(service, i):
            await asyncio.sleep(0.02)
            assert service == "service"
        """,
    )
    result = suite.runpytest(DIST, "-s")
    result.assert_outcomes(passed=15)
    line = next(ln for ln in result.outlines if ln.startswith("LOG:"))
    log = eval(line[len("LOG:") :])
    assert log.count("session up") == log.count("one up") == log.count("class up") == 1
    # LIFO: inner scopes go first, the session after every user
    assert log.index("class down") < log.index("one down") < log.index("session down")
    assert log[-1] == "session down"


def test_parametrized_module_fixture_instances_never_overlap(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import asyncio
        import pytest
        from recorder import waiting

        live = set()

        @pytest.fixture(scope="module", params=["mysql", "postgres"])
        async def engine(request):
            live.add(request.param)
            yield request.param
            live.discard(request.param)

        @pytest.mark.parametrize("i", range(5))
        async def test_engine(engine, i):
            assert live == {engine}
            await waiting(engine, 0.05)
            assert live == {engine}
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=10)
    recorded = events(suite)
    mysql = [(e["start"], e["end"]) for e in recorded if e["name"] == "mysql"]
    postgres = [(e["start"], e["end"]) for e in recorded if e["name"] == "postgres"]
    assert peak_overlap(mysql) == 5
    assert peak_overlap(postgres) == 5
    assert max(end for _, end in mysql) <= min(start for start, _ in postgres) or max(
        end for _, end in postgres
    ) <= min(start for start, _ in mysql)


def test_request_param_indirect_autouse_usefixtures_and_overrides(
    suite: pytest.Pytester,
) -> None:
    suite.makeconftest(
        """
        import pytest

        @pytest.fixture
        def name():
            return "conftest"

        @pytest.fixture
        def marker_list():
            return []

        @pytest.fixture(autouse=True)
        async def auto(marker_list):
            marker_list.append("auto")
        """
    )
    suite.makepyfile(
        """
        import asyncio
        import pytest

        @pytest.fixture
        def name(name):
            return "module+" + name

        @pytest.fixture
        async def doubled(request):
            await asyncio.sleep(0.01)
            return request.param * 2

        @pytest.fixture
        def used(marker_list):
            marker_list.append("used")

        @pytest.mark.parametrize("doubled", [1, 2, 3], indirect=True)
        async def test_indirect(doubled, request):
            await asyncio.sleep(0.01)
            assert doubled == request.node.callspec.params["doubled"] * 2

        async def test_override(name):
            assert name == "module+conftest"

        @pytest.mark.usefixtures("used")
        async def test_usefixtures_and_autouse(marker_list):
            await asyncio.sleep(0.01)
            assert marker_list == ["auto", "used"]
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=5)


def test_fixture_errors_are_reported_in_their_phase_with_the_real_exception(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(
        """
        import asyncio
        import pytest

        @pytest.fixture
        async def broken_setup():
            await asyncio.sleep(0.01)
            raise LookupError("no such row")

        @pytest.fixture
        async def broken_teardown():
            yield
            await asyncio.sleep(0.01)
            raise ConnectionResetError("lost the server")

        @pytest.fixture
        def sync_broken():
            raise KeyError("sync fixture")

        async def test_setup_error(broken_setup):
            pass

        async def test_teardown_error(broken_teardown):
            await asyncio.sleep(0.01)

        async def test_sync_fixture_error(sync_broken):
            pass

        @pytest.mark.parametrize("i", range(3))
        async def test_neighbours_pass(i):
            await asyncio.sleep(0.02)
        """
    )
    result = suite.runpytest(DIST)
    result.assert_outcomes(passed=4, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_setup_error*",
            "*LookupError: no such row*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_teardown_error*", "*ConnectionResetError: lost the server*"]
    )
    result.stdout.fnmatch_lines(
        ["*ERROR at setup of test_sync_fixture_error*", "*KeyError: 'sync fixture'*"]
    )


def test_sync_and_async_generator_fixtures_clean_up(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import asyncio
        import pytest

        closed = []

        @pytest.fixture
        def sync_resource():
            yield "sync"
            closed.append("sync")

        @pytest.fixture
        async def async_resource(sync_resource):
            await asyncio.sleep(0.01)
            yield sync_resource + "+async"
            await asyncio.sleep(0.01)
            closed.append("async")

        async def test_uses_both(async_resource):
            assert async_resource == "sync+async"

        def test_teardown_order_is_lifo():
            assert closed == ["async", "sync"]
        """
    )
    suite.runpytest(DIST).assert_outcomes(passed=2)


@pytest.mark.parametrize(
    "mode", [["-p", "no:asyncgroup"], [DIST], [DIST, "-n", "2"]], ids=["plain", "one", "n2"]
)
def test_an_async_fixtures_value_is_freed_at_its_teardown(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    """With the collector off, what an async generator fixture yielded is freed
    by the end of the run, as in a plain run: nothing of ours holds a test's
    frames in a reference cycle until the collector's next pass."""
    if "no:asyncgroup" in mode:
        pytest.importorskip("pytest_asyncio")  # the plain run is pytest-asyncio's
    write_ini(suite, "asyncio_mode = auto")
    suite.makeconftest(
        """
        import gc, os, weakref

        refs = []

        def pytest_configure(config):
            gc.disable()

        def pytest_sessionfinish(session):
            if refs:
                alive = sum(ref() is not None for ref in refs)
                with open(f"freed-{os.getpid()}.txt", "w") as out:
                    out.write(f"{len(refs)} {alive}")

        def pytest_unconfigure(config):
            gc.enable()
        """
    )
    suite.makepyfile(
        """
        import asyncio
        import weakref
        import pytest
        from conftest import refs

        class Connection:
            pass

        @pytest.fixture
        async def connection():
            value = Connection()
            refs.append(weakref.ref(value))
            yield value
            await asyncio.sleep(0)

        @pytest.mark.parametrize("i", range(6))
        async def test_uses(connection, i):
            await asyncio.sleep(0.05)
        """
    )
    suite.runpytest(*mode).assert_outcomes(passed=6)
    counts = [path.read_text().split() for path in suite.path.glob("freed-*.txt")]
    assert sum(int(made) for made, _ in counts) == 6
    assert [alive for _, alive in counts] == ["0"] * len(counts)
