"""One class/module fixture definition, one live instance per node.

A module fixture of a ``conftest.py`` is used by every module below it; a class
fixture by every class. While tests of several modules (classes) overlap, each
module (class) sees its own instance, set up on its first test and torn down
after its last one, as in plain pytest.

README: "What may run at the same time".
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from pytest_asyncgroup._engine.fixtures import ScopeInstances

from ..conftest import events

DIST = "--dist=asyncgroup"
MODES = pytest.mark.parametrize(
    "mode", [[], ["-n", "2"], ["-n", "3"]], ids=["one-process", "n2", "n3"]
)

MODULE_FIXTURES = """
import asyncio, time
import pytest
from recorder import log

@pytest.fixture(scope="module")
async def module_name(request):
    log("setup", time.perf_counter(), 0, node=request.node.nodeid, fixture="async")
    await asyncio.sleep(0.05)
    yield request.module.__name__
    await asyncio.sleep(0.02)
    log("teardown", time.perf_counter(), 0, node=request.node.nodeid, fixture="async")

@pytest.fixture(scope="module")
def sync_module_name(request, module_name):
    log("setup", time.perf_counter(), 0, node=request.node.nodeid, fixture="sync")
    yield module_name.upper()
    log("teardown", time.perf_counter(), 0, node=request.node.nodeid, fixture="sync")
"""

MODULE = """
import asyncio, time
import pytest
from recorder import log

@pytest.mark.parametrize("i", range(5))
async def test_it(module_name, sync_module_name, i, request):
    start = time.perf_counter()
    await asyncio.sleep(0.1)
    log(request.node.nodeid, start, time.perf_counter(), module=__name__)
    assert module_name == __name__
    assert sync_module_name == __name__.upper()
"""


@MODES
def test_a_conftest_module_fixture_gives_each_module_its_own_instance(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makeconftest(MODULE_FIXTURES)
    suite.makepyfile(**{f"test_{name}": MODULE for name in "abcd"})
    suite.runpytest(DIST, *mode).assert_outcomes(passed=20)

    recorded = events(suite)
    tests = [e for e in recorded if "module" in e]
    by_process: dict[tuple[str, str], list[dict[str, object]]] = defaultdict(list)
    for event in recorded:
        if event["name"] in ("setup", "teardown"):
            by_process[(str(event["worker"]), str(event["node"]))].append(event)
    for (worker, node), fixture_events in by_process.items():
        # Once per module per process, inner teardown first, after its last test there.
        names = [(e["name"], e["fixture"]) for e in fixture_events]
        assert names == [
            ("setup", "async"),
            ("setup", "sync"),
            ("teardown", "sync"),
            ("teardown", "async"),
        ], (worker, node, names)
        module = node.removesuffix(".py")
        mine = [e for e in tests if e["worker"] == worker and e["module"] == module]
        assert mine, (worker, node)
        first_setup = float(fixture_events[0]["start"])  # type: ignore[arg-type]
        last_teardown = float(fixture_events[-1]["start"])  # type: ignore[arg-type]
        assert all(first_setup < float(e["start"]) for e in mine)  # type: ignore[arg-type]
        assert all(float(e["end"]) < last_teardown for e in mine)  # type: ignore[arg-type]
    if not mode:
        # The concurrency stays: tests of every module were in flight at one instant.
        assert _most_modules_in_flight(tests) == 4


def _most_modules_in_flight(tests: list[dict[str, object]]) -> int:
    most = 0
    for test in tests:
        instant = float(test["start"]) + 1e-9  # type: ignore[arg-type]
        modules = {
            t["module"]
            for t in tests
            if float(t["start"]) <= instant < float(t["end"])  # type: ignore[arg-type]
        }
        most = max(most, len(modules))
    return most


@MODES
def test_a_class_fixture_gives_each_class_its_own_instance(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makeconftest(
        """
        import asyncio
        import pytest

        SETUPS = []

        @pytest.fixture(scope="class")
        async def class_name(request):
            await asyncio.sleep(0.05)
            SETUPS.append(request.node.nodeid)
            return request.cls.__name__ if request.cls else request.node.name
        """
    )
    suite.makepyfile(
        """
        import asyncio
        import pytest
        from conftest import SETUPS

        class TestX:
            @pytest.mark.parametrize("i", range(4))
            async def test_x(self, class_name, request, i):
                await asyncio.sleep(0.05)
                assert class_name == "TestX"
                assert request.cls.__name__ == "TestX"

        class TestY:
            @pytest.mark.parametrize("i", range(4))
            async def test_y(self, class_name, i):
                await asyncio.sleep(0.05)
                assert class_name == "TestY"

        @pytest.mark.parametrize("i", range(2))
        async def test_outside_a_class(class_name, request, i):
            # pytest caches a class fixture outside a class on the test itself
            await asyncio.sleep(0.05)
            assert class_name == request.node.name
        """
    )
    result = suite.runpytest(DIST, *mode, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=10)


def test_getfixturevalue_of_a_module_fixture_from_sync_code_gets_its_module_s_instance(
    suite: pytest.Pytester,
) -> None:
    suite.makeconftest(
        """
        import asyncio
        import pytest

        @pytest.fixture(scope="module")
        def module_name(request):
            return request.module.__name__

        @pytest.fixture
        def looked_up(request):
            return request.getfixturevalue("module_name")
        """
    )
    module = """
        import asyncio
        import pytest

        @pytest.mark.parametrize("i", range(4))
        async def test_async(looked_up, i):
            await asyncio.sleep(0.05)
            assert looked_up == __name__

        def test_sync(request):
            assert request.getfixturevalue("module_name") == __name__
        """
    suite.makepyfile(test_a=module, test_b=module, test_c=module)
    suite.runpytest(DIST).assert_outcomes(passed=15)


@pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["one-process", "n2"])
def test_overlapping_modules_tear_their_fixtures_down_once_each(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    """Async module teardowns that wait, in modules whose last tests end together:
    each instance is torn down once, its error reported on a test of its module."""
    suite.makeconftest(
        """
        import asyncio
        import pytest
        from recorder import log

        @pytest.fixture(scope="module")
        async def resource(request):
            yield request.module.__name__
            await asyncio.sleep(0.05)
            log("teardown " + request.module.__name__, 0, 0)
            if request.module.__name__ == "test_b":
                raise RuntimeError("teardown of test_b's resource")
        """
    )
    module = """
        import asyncio
        import pytest

        pytestmark = pytest.mark.resource(__name__)  # a module's tests on one worker

        @pytest.mark.parametrize("i", range(3))
        async def test_it(resource, i):
            await asyncio.sleep(0.05)
        """
    suite.makepyfile(test_a=module, test_b=module, test_c=module)
    result = suite.runpytest(DIST, *mode)
    result.assert_outcomes(passed=9, errors=1)
    result.stdout.fnmatch_lines(["ERROR test_b.py::test_it*RuntimeError: teardown of test_b*"])
    teardowns = sorted(str(e["name"]) for e in events(suite))
    assert teardowns == ["teardown test_a", "teardown test_b", "teardown test_c"]


def test_a_module_fixture_asked_for_by_name_in_tests_that_run_alone_is_their_modules(
    suite: pytest.Pytester,
) -> None:
    """Sync tests run alone, each using its own FixtureDefs as they are; a module
    fixture it asks for by name is still its module's, while another module's
    instance is live (the modules' tests interleave, so both stay set up)."""
    suite.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="module")
        def module_name(request):
            return request.module.__name__

        def pytest_collection_modifyitems(items):
            a = [i for i in items if i.module.__name__ == "test_a"]
            b = [i for i in items if i.module.__name__ == "test_b"]
            items[:] = [i for pair in zip(a, b) for i in pair]
        """
    )
    module = """
        import pytest

        @pytest.mark.parametrize("i", range(3))
        def test_it(request, i):
            assert request.getfixturevalue("module_name") == __name__
    """
    suite.makepyfile(test_a=module, test_b=module)
    suite.runpytest(DIST, "-p", "no:randomly").assert_outcomes(passed=6)
    suite.runpytest("-p", "no:asyncgroup", "-p", "no:randomly").assert_outcomes(passed=6)


def test_tests_of_one_node_share_its_instance_until_it_is_released(
    suite: pytest.Pytester,
) -> None:
    """The fixture layer itself: which FixtureDef object each test is given."""
    pytester = suite
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def service():
            return 1

        @pytest.fixture(scope="module")
        def per_module(service):
            return 2

        @pytest.fixture
        def per_test(per_module):
            return 3
        """
    )
    pytester.makepyfile(
        test_a="def test_1(per_test): pass\ndef test_2(per_test): pass",
        test_b="def test_3(per_test): pass",
    )
    items = pytester.getitems(pytester.path)
    one, two, three = items
    instances = ScopeInstances()
    undo = [instances.use_for(item, alone=False) for item in items]

    def chosen(item: pytest.Item, name: str) -> object:
        return item._request._arg2fixturedefs[name][-1]  # type: ignore[attr-defined]

    original = one.session._fixturemanager.getfixturedefs("per_module", one)[-1]  # type: ignore[union-attr]
    assert chosen(one, "per_module") is chosen(two, "per_module")
    assert chosen(one, "per_module") is not chosen(three, "per_module")
    assert chosen(one, "per_module") is not original
    assert chosen(one, "per_test") is not chosen(two, "per_test")  # a test's own
    assert chosen(one, "service") is chosen(three, "service")  # one session
    assert instances.live() == 2
    instances.release(one.parent)
    assert instances.live() == 1
    # A new instance for the module once its last one was torn down.
    undo.append(instances.use_for(one, alone=True))
    assert chosen(one, "per_module") is not chosen(two, "per_module")
    for each in reversed(undo):
        each()
