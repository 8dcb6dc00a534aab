"""Issue 4's parity check: a suite gives the same results plainly and under asyncgroup.

One suite with passes, assertion failures with rich diffs, setup and teardown
errors, prints, logs, warnings, skips and xfails (every test awaits, so they
overlap under asyncgroup) is run three times: plain pytest with pytest-asyncio,
``--dist=asyncgroup`` in one process, and ``-n 2 --dist=asyncgroup``. Each test
must get the same outcome per phase, the same failure text (pytest's assertion
rewriting and introspection included) and the same captured sections; the same
warnings must be recorded under the same tests. Generated suites (three seeds)
then compare the captured sections of tests that write and log at random in
their phases.
"""

from __future__ import annotations

import random
import re

import pytest

from ..conftest import peak_overlap, spans

pytest.importorskip("pytest_asyncio")

SUITE = """
import asyncio, logging, sys, warnings
import pytest

log = logging.getLogger("parity")

async def pause():
    await asyncio.sleep(0.05)

@pytest.fixture
async def resource():
    print("resource up")
    await pause()
    yield {"name": "db", "size": 3}
    await pause()
    print("resource down")

@pytest.fixture
async def broken_setup():
    await pause()
    raise RuntimeError("setup broke")

@pytest.fixture
async def broken_teardown():
    yield
    await pause()
    raise ValueError("teardown broke")

async def test_passes(resource):
    await pause()
    assert resource["size"] == 3

async def test_dict_diff(resource):
    await pause()
    print("comparing dicts")
    assert resource == {"name": "db", "size": 4, "extra": True}

async def test_list_diff():
    await pause()
    sys.stderr.write("comparing lists\\n")
    assert [1, 2, 3, 4] == [1, 2, 5, 4]

async def test_string_diff():
    await pause()
    log.warning("comparing strings")
    assert "the quick brown fox" == "the quick brown cat"

async def test_introspection():
    values = [3, 1, 2]
    await pause()
    assert sorted(values)[0] == values[0], "first is not smallest"

async def test_raises_inside():
    await pause()
    def inner(x):
        return {"a": 1}[x]
    inner("b")

async def test_setup_error(broken_setup):
    pass

async def test_teardown_error(broken_teardown):
    print("before the broken teardown")
    await pause()

async def test_warns():
    await pause()
    warnings.warn("deprecated thing", DeprecationWarning)

async def test_skips():
    await pause()
    pytest.skip("not here")

@pytest.mark.skip(reason="marked")
async def test_marked_skip():
    pass

@pytest.mark.xfail(reason="known bug")
async def test_xfails():
    await pause()
    assert 1 == 2

@pytest.mark.xfail(reason="fixed already")
async def test_xpasses():
    await pause()

@pytest.mark.parametrize("n", [1, 2, 3])
async def test_param(n, resource):
    await pause()
    log.info("n is %d", n)
    log.debug("below the log level: no section, as plainly")
    assert n < 3
"""

INI = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
log_level = INFO
filterwarnings = ignore::pytest.PytestConfigWarning
"""


_WORKER_HEADER = re.compile(r"\A\[gw\d+\] .*\n")


def _results(pytester: pytest.Pytester, *args: str) -> dict[str, object]:
    """Per test: each phase's outcome, failure text and sections; its warnings."""
    recorder = pytester.inline_run("-p", "no:randomly", *args)
    results: dict[str, object] = {}
    for report in recorder.getreports("pytest_runtest_logreport"):
        text = report.longreprtext if report.failed else str(report.longrepr or "")
        text = _WORKER_HEADER.sub("", text).strip()  # xdist's "[gw1] linux -- Python ..." line
        results[f"{report.nodeid} {report.when}"] = (report.outcome, text, report.sections)
    warnings = sorted(
        (call.nodeid, str(call.warning_message.message))
        for call in recorder.getcalls("pytest_warning_recorded")
        if call.when == "runtest"
    )
    results["warnings"] = warnings
    return results


@pytest.mark.parametrize(
    "mode", [pytest.param([], id="one-process"), pytest.param(["-n", "2"], id="n2")]
)
def test_same_outcomes_failure_text_sections_and_warnings_as_plain_pytest(
    pytester: pytest.Pytester, mode: list[str]
) -> None:
    pytester.makefile(".ini", pytest=INI)
    pytester.makepyfile(test_parity=SUITE)
    plain = _results(pytester, "-p", "asyncio")
    ours = _results(pytester, "--dist=asyncgroup", *mode)
    assert plain.keys() == ours.keys()
    for key in plain:
        assert ours[key] == plain[key], key
    # The suite exercises what it claims to.
    outcomes = {key: value[0] for key, value in plain.items() if key != "warnings"}  # type: ignore[index]
    assert outcomes["test_parity.py::test_dict_diff call"] == "failed"
    assert outcomes["test_parity.py::test_setup_error setup"] == "failed"
    assert outcomes["test_parity.py::test_teardown_error teardown"] == "failed"
    assert outcomes["test_parity.py::test_xfails call"] == "skipped"
    assert plain["warnings"] == [("test_parity.py::test_warns", "deprecated thing")]
    dict_diff = plain["test_parity.py::test_dict_diff call"][1]  # type: ignore[index]
    assert "Differing items:" in dict_diff


# Generated: each test writes to stdout and stderr and logs (at three levels, and
# below the log level from a logger of its own level) in a random selection of its
# phases, with awaits between (so the tests overlap), including writes that leave
# nothing (an empty print, a flush) and text without a newline. Every report's
# sections must be plain pytest's.
GENERATED = """
import asyncio, logging, sys
import pytest
from recorder import span

log = logging.getLogger("generated")
verbose = logging.getLogger("generated.verbose")
verbose.setLevel(logging.DEBUG)  # its records pass the root's level: the handlers' filters them
PLAN = {plan!r}

async def act(name, phase):
    for kind, pause in PLAN[name][phase]:
        await asyncio.sleep(pause)
        if kind == "out":
            print(f"{{name}} {{phase}} out")
        elif kind == "err":
            sys.stderr.write(f"{{name}} {{phase}} err\\n")
        elif kind == "partial":
            sys.stdout.write(f"{{name}} {{phase}} partial")
        elif kind == "empty":
            print(end="")
        elif kind == "flush":
            sys.stdout.flush()
            sys.stderr.flush()
        elif kind == "verbose":
            verbose.debug("%s %s verbose", name, phase)
        else:
            getattr(log, kind)("%s %s %s", name, phase, kind)

@pytest.fixture
async def phases(request):
    name = request.node.name
    async with span(name):
        await act(name, "setup")
        yield name
        await act(name, "teardown")

@pytest.mark.parametrize("i", range({count}))
async def test_generated(phases, i):
    await act(phases, "call")
    assert not PLAN[phases]["fails"]
"""

_KINDS = ["out", "err", "partial", "empty", "flush", "debug", "verbose", "info", "warning"]


def _generated_suite(seed: int, count: int = 24) -> str:
    rng = random.Random(seed)
    plan: dict[str, dict[str, object]] = {}
    for i in range(count):
        phases: dict[str, object] = {
            phase: [
                (rng.choice(_KINDS), rng.choice([0, 0.001, 0.01])) for _ in range(rng.randint(0, 3))
            ]
            for phase in ("setup", "call", "teardown")
        }
        phases["fails"] = rng.random() < 0.2
        plan[f"test_generated[{i}]"] = phases
    return GENERATED.format(plan=plan, count=count)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "mode", [pytest.param([], id="one-process"), pytest.param(["-n", "2"], id="n2")]
)
def test_generated_output_gives_plain_pytest_s_sections(
    suite: pytest.Pytester, mode: list[str], seed: int
) -> None:
    suite.makefile(".ini", pytest=INI)
    suite.makepyfile(test_generated=_generated_suite(seed))
    plain = _results(suite, "-p", "asyncio")
    (suite.path / "events.jsonl").unlink()
    ours = _results(suite, "--dist=asyncgroup", *mode)
    assert plain.keys() == ours.keys()
    for key in plain:
        assert ours[key] == plain[key], key
    # The suite exercises what it claims to: tests that overlap (set-up to
    # teardown), phases with sections of each kind, and phases that wrote
    # nothing that shows.
    assert peak_overlap(spans(suite)) >= 4
    sections = [value[2] for key, value in plain.items() if key != "warnings"]  # type: ignore[index]
    titles = {title.split()[1] for phase in sections for title, _ in phase}
    assert titles == {"stdout", "stderr", "log"}
    assert any(not phase for phase in sections)
