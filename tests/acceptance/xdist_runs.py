"""Runs of xdist suites for the acceptance tests: a controller-side report log.

Where tests ran comes from the recorder (each span names its worker) and from
the reports the controller receives; runs that could hang (crashes, -x) run in
a subprocess with a timeout.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from ..conftest import events

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


# The suite most placement tests run: two keyed groups and keyless tests.
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
