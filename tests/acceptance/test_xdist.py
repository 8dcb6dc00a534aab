"""Serial tests, session fixtures, ids, bad input, loading.

README: "Across workers".
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from pytest_asyncgroup._session.report import REPORT_ATTRIBUTE

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


# Reports travel from worker to controller on a wire of our own (``_xdist/protocol.py``:
# held, several to a message, unpacked by the controller; the loop's record rides
# on each teardown report). What the controller's hooks get must be what xdist's
# own wire gives them, field for field and type for type (``1`` is not ``true``).
FIELDS_SUITE = """
import pytest

@pytest.fixture
def noted(record_property):
    record_property("set up", 1)
    yield
    record_property("torn down", True)

@pytest.fixture
def broken():
    raise RuntimeError("setup broke")

@pytest.mark.slow
@pytest.mark.parametrize("n", [1, 2])
def test_passes(noted, n, record_property):
    print("out", n)
    record_property("called", n)
    record_property("values", (n, 0.5, None, "é", b"raw", frozenset({"f"}), [("t",)]))

def test_fails(noted):
    try:
        {}["key"]
    except KeyError as error:
        raise ValueError("chained") from error

def test_setup_fails(broken):
    pass

def test_skips():
    pytest.skip("not here")

@pytest.mark.xfail(reason="known")
def test_xfails():
    assert False
"""

# A worker-side plugin that adds fields to some phases' serialized reports, as a
# third-party plugin may: a field only the first report has, one the first lacks,
# one whose value equals across phases but changes type.
FIELDS_CONFTEST = """
import json, os, re
from pathlib import Path

import pytest

LOG = Path(__file__).parent / "fields.jsonl"
VARIES = {"duration", "start", "stop", "worker_id", "item_index", "testrun_uid", "node"}
OURS = "REPORT_ATTRIBUTE"  # the worker loop's record of a test, on its teardown report
CONFIG = []

def pytest_configure(config):
    CONFIG.append(config)

@pytest.hookimpl(wrapper=True)
def pytest_report_to_serializable(config, report):
    data = yield
    if os.environ.get("PYTEST_XDIST_WORKER") and data.get("$report_type") == "TestReport":
        if report.when == "setup":
            data["only_first"] = [1]
        else:
            data["not_first"] = {"when": report.when}
        data["kind"] = 1 if report.when == "setup" else True
    return data

def pytest_runtest_logreport(report):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # only what the controller receives
    config = CONFIG[0]
    data = config.hook.pytest_report_to_serializable(config=config, report=report)
    fields = {key: value for key, value in data.items() if key not in VARIES and key != OURS}
    line = {
        "nodeid": data["nodeid"],
        "when": data["when"],
        # As JSON, to read; as repr, where a tuple is not a list and 1 is not True.
        "json": json.dumps(fields, sort_keys=True, default=repr),
        "typed": repr(sorted(fields.items())),
    }
    with LOG.open("a") as fh:
        fh.write(re.sub(r"\\bgw\\d+\\b", "gw", json.dumps(line)) + "\\n")
"""


def _fields(pytester: pytest.Pytester, *args: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(nodeid, phase) -> the report's fields as JSON text and as their repr (where
    ``1`` and ``True`` differ, and a tuple from a list)."""
    log = pytester.path / "fields.jsonl"
    log.unlink(missing_ok=True)
    pytester.runpytest_subprocess("-p", "no:randomly", "-n", "2", *args)
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for line in log.read_text().splitlines():
        data = json.loads(line)
        key = (data["nodeid"], data["when"])
        assert key not in seen, key
        seen[key] = (data["json"], data["typed"])
    return seen


# Each worker counts the messages it sends the controller (wrapping execnet's
# ``Channel.send`` in the worker process): every batch of events goes packed.
PACKED_CONFTEST = """
import collections, json, os
from pathlib import Path

import pytest
from execnet import gateway_base

SENT = collections.Counter()

def pytest_configure(config):
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    send = gateway_base.Channel.send

    def counting(self, item):
        if isinstance(item, tuple) and item and item[0] == "pytest_asyncgroup_events":
            if "journaled" in item[1]:
                SENT["journaled messages"] += 1
                SENT["journaled batches"] += len(item[1]["journaled"])
            SENT["packed" if {"packed", "journaled"} & set(item[1]) else "unpacked"] += 1
        elif isinstance(item, tuple) and item and item[0] == "testreport":
            SENT["report alone"] += 1
        return send(self, item)

    gateway_base.Channel.send = counting

# Before xdist's worker says it has finished: the controller may end a worker's
# process soon after that (it did once on a loaded machine, before pytest_unconfigure).
@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    config = session.config
    if os.environ.get("PYTEST_XDIST_WORKER"):
        worker = os.environ["PYTEST_XDIST_WORKER"]
        journal = config.workerinput.get("pytest_asyncgroup_journal")
        Path(config.rootpath, f"sent-{worker}.json").write_text(json.dumps(SENT))
        Path(config.rootpath, f"journal-{worker}.txt").write_text(journal or "")
"""


def test_a_workers_events_go_packed(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(PACKED_CONFTEST)
    pytester.makepyfile(
        """
        import asyncio, pytest

        @pytest.mark.parametrize("i", range(20))
        async def test_awaits(i):
            await asyncio.sleep(0.01)
            assert i != 7
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-n", "2", "--dist=asyncgroup")
    result.assert_outcomes(passed=19, failed=1)
    sent = Counter[str]()
    for worker in ("gw0", "gw1"):
        sent.update(json.loads((pytester.path / f"sent-{worker}.json").read_text()))
    assert sent["packed"] >= 2  # (the failing report goes at once, packed too)
    assert sent["unpacked"] == sent["report alone"] == 0


def test_a_local_worker_journals_its_events_and_sends_them_in_fewer_messages(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker on this machine writes each settled batch to a file the controller
    # reads if the worker dies (test_crashes.py), and sends batches together.
    pytester.makeconftest(PACKED_CONFTEST)
    pytester.makepyfile(
        """
        import asyncio, pytest

        @pytest.mark.parametrize("i", range(100))
        async def test_awaits(i):
            await asyncio.sleep(0.05)
        """
    )
    temp = pytester.mkdir("temp")
    monkeypatch.setenv("TMPDIR", str(temp))  # where the controller makes the journals
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-n", "1", "--dist=asyncgroup")
    result.assert_outcomes(passed=100)
    sent = Counter[str](json.loads((pytester.path / "sent-gw0.json").read_text()))
    assert sent["unpacked"] == sent["report alone"] == 0
    assert sent["packed"] == sent["journaled messages"]
    # Each test settles its worker at least once; messages carry several batches.
    assert sent["journaled batches"] >= 100
    assert sent["journaled messages"] * 2 < sent["journaled batches"]
    journal = Path((pytester.path / "journal-gw0.txt").read_text())
    assert journal.parent.parent == temp
    assert not journal.exists()
    assert list(temp.iterdir()) == []  # the journals are gone with the run


def test_the_controller_gets_each_reports_fields_as_over_xdists_own_wire(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_fields=FIELDS_SUITE)
    pytester.makeconftest(FIELDS_CONFTEST.replace("REPORT_ATTRIBUTE", REPORT_ATTRIBUTE))
    plain = _fields(pytester, "--dist=load")
    ours = _fields(pytester, "--dist=asyncgroup")
    assert plain.keys() == ours.keys()
    for key in plain:
        assert ours[key] == plain[key], key
    # The suite exercises what it claims to: 6 tests, 3 phases each but one.
    assert len(plain) == 6 * 3 - 1
    call = json.loads(plain[("test_fields.py::test_passes[1]", "call")][0])
    assert call["user_properties"][:2] == [["set up", 1], ["called", 1]]
    values = "('values', (1, 0.5, None, 'é', b'raw', frozenset({'f'}), [('t',)]))"
    assert values in plain[("test_fields.py::test_passes[1]", "call")][1]
    assert call["kind"] is True
    assert call["not_first"] == {"when": "call"}
    assert "only_first" not in call
    assert "slow" in call["keywords"]
    teardown = json.loads(plain[("test_fields.py::test_passes[1]", "teardown")][0])
    assert teardown["user_properties"][-1] == ["torn down", True]
    chained = json.loads(plain[("test_fields.py::test_fails", "call")][0])["longrepr"]
    assert len(chained["chain"]) == 2
