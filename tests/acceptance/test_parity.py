"""Issue 4's parity check: a suite gives the same results plainly and under asyncgroup.

One suite with passes, assertion failures with rich diffs, setup and teardown
errors, prints, logs, warnings, skips and xfails (every test awaits, so they
overlap under asyncgroup) is run three times: plain pytest with pytest-asyncio,
``--dist=asyncgroup`` in one process, and ``-n 2 --dist=asyncgroup``. Each test
must get the same outcome per phase, the same failure text (pytest's assertion
rewriting and introspection included) and the same captured sections; the same
warnings must be recorded under the same tests.
"""

from __future__ import annotations

import re

import pytest

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
