"""Patches per test: ``monkeypatch`` and ``mocker`` users overlap, each seeing its own.

README: "Patching under overlap". Each suite runs plain (pytest-asyncio, one test
at a time) for the reference outcomes, then in one process and under ``-n 2``;
overlap is read from the spans the tests record.
"""

from __future__ import annotations

import json

import pytest

from ..conftest import RECORDER, events, overlaps, peak_overlap, spans, write_ini

DIST = "--dist=asyncgroup"
MODES = pytest.mark.parametrize(
    "mode", [["-p", "no:asyncgroup"], [DIST], [DIST, "-n", "2"]], ids=["plain", "one", "n2"]
)


@pytest.fixture
def plugins() -> None:
    """The plain run needs pytest-asyncio; the suites use pytest-mock's ``mocker``."""
    pytest.importorskip("pytest_asyncio")
    pytest.importorskip("pytest_mock")


LOOP_SCOPES = ("asyncio_mode = auto", "asyncio_default_test_loop_scope = session")

APP = """
import os
from time import time

def stamp():
    return time()

def fetch():
    return "real"

class Client:
    def get(self):
        return "real-get"

    @classmethod
    def make(cls):
        return cls()

LIMIT = 3

def limit():
    return LIMIT

def env():
    return os.environ.get("APP_MODE")
"""

RESTORED_AT_THE_END = """
import json, os, time
import app
from recorder import EVENTS

def pytest_sessionfinish(session):
    with EVENTS.open("a") as fh:
        fh.write(json.dumps({"name": "restored", "start": 0, "end": 0,
            "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
            "time": app.time is time.time, "fetch": app.fetch.__name__ == "fetch"
                and type(vars(app)["fetch"]).__name__ == "function",
            "get": type(vars(app.Client)["get"]).__name__ == "function",
            "limit": app.LIMIT, "env": os.environ.get("APP_MODE")}) + "\\n")
"""


def _suite(pytester: pytest.Pytester, conftest: str, tests: str) -> None:
    pytester.makepyfile(app=APP, test_suite=tests)
    pytester.makeconftest(conftest + RESTORED_AT_THE_END)
    write_ini(pytester, *LOOP_SCOPES)


def _restored(pytester: pytest.Pytester) -> None:
    finals = [e for e in events(pytester) if e["name"] == "restored"]
    assert finals
    for final in finals:
        assert final["time"] is True
        assert final["fetch"] is True
        assert final["get"] is True
        assert final["limit"] == 3
        assert final["env"] is None


@MODES
def test_an_autouse_monkeypatch_fixture_no_longer_makes_every_test_run_alone(
    suite: pytest.Pytester, mode: list[str], plugins: None
) -> None:
    """The issue's suite: an autouse fixture freezes ``app.time`` for every test."""
    _suite(
        suite,
        """
import pytest, app

@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(app, "time", lambda: 5000)
""",
        """
import asyncio, pytest, app
from recorder import span

@pytest.mark.parametrize("i", range(20))
async def test_stamp(i):
    async with span("stamp"):
        await asyncio.sleep(0.05 + 0.01 * (i % 5))
        assert app.stamp() == 5000
""",
    )
    result = suite.runpytest(*mode)
    result.assert_outcomes(passed=20)
    if mode[0] == DIST:
        assert peak_overlap(spans(suite, "stamp")) >= 10
    _restored(suite)


MOCKER_SUITE = """
import asyncio, time
import pytest, app
from recorder import log, span

@pytest.mark.parametrize("i", range(6))
async def test_function_patched(mocker, i):
    async with span("patcher"):
        fetch = mocker.patch("app.fetch", return_value=f"fake{i}")
        await asyncio.sleep(0.1 + 0.02 * i)
        assert app.fetch() == f"fake{i}"
        assert app.fetch.return_value == f"fake{i}"
        fetch.assert_called_once_with()

@pytest.mark.parametrize("i", range(4))
async def test_method_patched(mocker, i):
    async with span("patcher"):
        mocker.patch.object(app.Client, "get", return_value=f"get{i}")
        await asyncio.sleep(0.1 + 0.02 * i)
        assert app.Client().get() == f"get{i}"
        assert app.Client.make().get() == f"get{i}"

@pytest.mark.parametrize("i", range(3))
async def test_method_autospec(mocker, i):
    async with span("patcher"):
        get = mocker.patch.object(app.Client, "get", autospec=True, return_value=i)
        await asyncio.sleep(0.1)
        client = app.Client()
        assert client.get() == i
        get.assert_called_once_with(client)
        with pytest.raises(TypeError):
            client.get("too", "many")

async def test_replaced_by_a_function(monkeypatch):
    async with span("patcher"):
        monkeypatch.setattr(app.Client, "get", lambda self: ("bound", type(self).__name__))
        await asyncio.sleep(0.1)
        assert app.Client().get() == ("bound", "Client")

async def test_patched_in_a_task_the_test_started(monkeypatch):
    async with span("patcher"):
        async def patch():
            monkeypatch.setattr(app, "fetch", lambda: "from a task")
        await asyncio.get_running_loop().create_task(patch())
        await asyncio.sleep(0.1)
        assert app.fetch() == "from a task"

async def test_patches_nothing():
    async with span("plain"):
        for _ in range(25):
            assert app.fetch() == "real"
            assert app.Client().get() == "real-get"
            await asyncio.sleep(0.01)

async def test_undone_in_any_order(mocker):
    # patched after the tests above patched the same names, undone before them
    async with span("patcher"):
        mocker.patch("app.fetch", return_value="short")
        await asyncio.sleep(0.02)
        assert app.fetch() == "short"

async def test_nested_patches_unwind_in_order():
    from unittest import mock
    with mock.patch("app.fetch", return_value=1):
        with mock.patch("app.fetch", return_value=2):
            await asyncio.sleep(0.02)
            assert app.fetch() == 2
        assert app.fetch() == 1
    assert app.fetch() == "real"
"""


@MODES
def test_each_test_sees_its_own_mocks_and_the_others_the_originals(
    suite: pytest.Pytester, mode: list[str], plugins: None
) -> None:
    _suite(suite, "", MOCKER_SUITE)
    result = suite.runpytest(*mode)
    result.assert_outcomes(passed=18)
    if mode[0] == DIST:
        patchers = spans(suite, "patcher")
        plain = spans(suite, "plain")
        assert peak_overlap(patchers) >= (5 if "-n" in mode else 10)
        # The test that patches nothing ran while others held their patches.
        assert sum(overlaps(plain[0], patcher) for patcher in patchers) >= 3
        result.stdout.no_fnmatch_line("*ran alone*")
    _restored(suite)


PROCESS_WIDE_SUITE = """
import asyncio, os, time
import pytest, app
from recorder import log, span

@pytest.mark.parametrize("i", range(3))
async def test_setenv(monkeypatch, i):
    async with span("neighbour"):
        await asyncio.sleep(0.05)
    start = time.perf_counter()
    monkeypatch.setenv("APP_MODE", f"mode{i}")
    await asyncio.sleep(0.05)
    assert app.env() == f"mode{i}"
    monkeypatch.undo()
    log("patched", start, time.perf_counter())

async def test_non_callable_global(monkeypatch):
    await asyncio.sleep(0.05)
    start = time.perf_counter()
    monkeypatch.setattr(app, "LIMIT", 9)
    await asyncio.sleep(0.05)
    assert app.limit() == 9
    monkeypatch.undo()
    log("patched", start, time.perf_counter())

@pytest.mark.parametrize("i", range(3))
async def test_sees_no_patch(i):
    async with span("neighbour"):
        for _ in range(30):
            now = time.perf_counter()
            log("sample", now, now, env=app.env(), limit=app.limit())
            await asyncio.sleep(0.01)
"""


@MODES
def test_a_patch_that_cannot_be_per_test_is_never_seen_beside_it(
    suite: pytest.Pytester, mode: list[str], plugins: None
) -> None:
    """``setenv`` and a non-callable global: the patching test holds the others still."""
    _suite(suite, "", PROCESS_WIDE_SUITE)
    result = suite.runpytest(*mode)
    result.assert_outcomes(passed=7)
    log = events(suite)
    samples = [e for e in log if e["name"] == "sample"]
    assert len(samples) == 90
    assert all(e["env"] is None and e["limit"] == 3 for e in samples)
    patches = [e for e in log if e["name"] == "patched"]
    assert len(patches) == 4
    for patch in patches:  # no step of another test of its worker ran meanwhile
        beside = [
            e
            for e in samples
            if e["worker"] == patch["worker"]
            and float(patch["start"]) < float(e["start"]) < float(patch["end"])  # type: ignore[arg-type]
        ]
        assert beside == [], json.dumps(beside)
    if mode[0] == DIST:
        # The tests did overlap: held still, not run one at a time from the start.
        assert peak_overlap(spans(suite, "neighbour")) >= 3
        result.stdout.fnmatch_lines(
            [
                "held the tests beside them still, by a change that cannot be per test*",
                "*monkeypatch.setitem on os.environ[[]'APP_MODE']",
                "*set app.LIMIT",
            ]
        )
    _restored(suite)


def test_monkeypatch_and_mocker_are_no_longer_alone_fixtures(pytester: pytest.Pytester) -> None:
    write_ini(pytester)
    pytester.makepyfile(
        """
        def test_one(monkeypatch, mocker):
            pass
        """
    )
    result = pytester.runpytest(DIST, "--asyncgroup-plan")
    result.stdout.no_fnmatch_line("*alone fixture*")


EDGES = """
import asyncio
from unittest import mock
import pytest, app
from recorder import span

async def test_multiple():
    with mock.patch.multiple("app", fetch=mock.DEFAULT, stamp=mock.DEFAULT) as patched:
        patched["fetch"].return_value = 1
        await asyncio.sleep(0.1)
        assert app.fetch() == 1

async def test_spy_beside_a_patch_of_the_same_function(mocker):
    await asyncio.sleep(0.02)
    spy = mocker.spy(app, "fetch")  # wraps what this test reads: the original
    assert app.fetch() == "real"
    spy.assert_called_once_with()
    await asyncio.sleep(0.1)

async def test_a_class_on_a_module(mocker):
    mocker.patch("app.Client").return_value.get.return_value = "faked"
    await asyncio.sleep(0.1)
    assert app.Client().get() == "faked"

async def test_the_class_beside_it():
    await asyncio.sleep(0.02)
    for _ in range(5):
        client = app.Client()
        assert isinstance(client, app.Client)
        class Mine(app.Client):
            pass
        assert Mine().get() == "real-get"
        await asyncio.sleep(0.02)

async def test_an_attribute_deleted_from_a_class(monkeypatch):
    monkeypatch.delattr(app.Client, "get")
    await asyncio.sleep(0.1)
    assert not hasattr(app.Client(), "get")

async def test_the_attribute_beside_it():
    await asyncio.sleep(0.02)
    for _ in range(5):
        assert app.Client().get() == "real-get"
        await asyncio.sleep(0.02)

async def test_an_object_attribute_holds_the_others(mocker):
    client = app.Client()
    mocker.patch.object(client, "get", return_value="mine")
    await asyncio.sleep(0.05)
    assert client.get() == "mine"
"""


@MODES
def test_spies_class_patches_deletions_and_patch_multiple_as_plain(
    suite: pytest.Pytester, mode: list[str], plugins: None
) -> None:
    _suite(suite, "", EDGES)
    result = suite.runpytest(*mode)
    result.assert_outcomes(passed=7)
    if mode[0] == DIST and "-n" not in mode:
        result.stdout.fnmatch_lines(
            ["*held the tests beside them still*", "  1: set <Client object>.get"]
        )
    _restored(suite)


def test_the_next_run_starts_alone_the_tests_that_patched_process_wide(
    suite: pytest.Pytester, plugins: None
) -> None:
    """pytest's cache remembers them: they no longer hold the others half-way through."""
    _suite(suite, "", PROCESS_WIDE_SUITE)
    suite.runpytest(DIST).assert_outcomes(passed=7)
    second = suite.runpytest(DIST)
    second.assert_outcomes(passed=7)
    second.stdout.fnmatch_lines(
        [
            "ran alone in their worker, by reason:",
            "  3: a change that cannot be per test, last run: monkeypatch.setitem on os.enviro*",
            "  1: a change that cannot be per test, last run: set app.LIMIT",
        ]
    )
    second.stdout.no_fnmatch_line("held the tests beside them still*")
    plan = suite.runpytest(DIST, "--asyncgroup-plan")
    plan.stdout.fnmatch_lines(["alone in their worker, by reason: 4 tests"])


WITHOUT_PLUGINS = """
import asyncio
from unittest import mock

import app
from recorder import span

async def test_monkeypatched(monkeypatch):
    async with span("t"):
        monkeypatch.setattr(app, "fetch", lambda: "mine")
        await asyncio.sleep(0.1)
        assert app.fetch() == "mine"

async def test_mock_patched():
    async with span("t"):
        with mock.patch.object(app.Client, "get", return_value="mock"):
            await asyncio.sleep(0.1)
            assert app.Client().get() == "mock"

async def test_sees_the_originals():
    async with span("t"):
        for _ in range(8):
            assert app.fetch() == "real"
            assert app.Client().get() == "real-get"
            await asyncio.sleep(0.02)
"""


def test_patches_per_test_without_pytest_asyncio_or_pytest_mock(pytester: pytest.Pytester) -> None:
    """The oldest supported pytest, with neither plugin: ``monkeypatch`` and
    ``unittest.mock`` alone."""
    pytester.makepyfile(recorder=RECORDER, app=APP, test_suite=WITHOUT_PLUGINS)
    pytester.makeconftest(RESTORED_AT_THE_END)
    pytester.syspathinsert()
    result = pytester.runpytest(DIST, "-p", "no:asyncio", "-p", "no:pytest_mock")
    result.assert_outcomes(passed=3)
    assert peak_overlap(spans(pytester, "t")) == 3
    _restored(pytester)
