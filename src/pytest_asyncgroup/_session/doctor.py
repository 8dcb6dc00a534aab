"""``--asyncgroup-doctor``: which tests are not safe to overlap, and what to declare.

The run goes on as usual (its outcomes and exit status are the run's); each
process's :class:`~.._engine.touches.TouchRecorder` charges what tests touch to
them, and the list rides on each test's teardown report (``report.py``). Here,
in the process that prints the summary:

1. each test's interval (first report's start to last report's stop) and
   process, and what it touched, are collected as reports arrive;
2. at the end, the tests that failed are run again, each alone (a plain
   ``--dist=asyncgroup`` run of those tests with ``--asyncgroup-concurrency=1``,
   in a subprocess), to tell "fails only when it overlaps" from "fails anyway";
3. the conflicts between overlapping tests, and the declarations that remove
   them (``_core/conflicts.py``), are printed in the section ``asyncgroup
   doctor``, and written as JSON with ``--asyncgroup-doctor-json PATH``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from .. import _compat
from .._core.conflicts import (
    Conflict,
    Interval,
    Touch,
    conftest_snippet,
    declarations,
    find_conflicts,
    overlapped_by,
    shared_with,
)
from .report import REPORT_ATTRIBUTE

RERUN_TIMEOUT = 600.0
"""Seconds the alone re-run of the failed tests may take."""


class Doctor:
    """Collects touches and intervals from reports; reports conflicts at the end."""

    def __init__(self, config: pytest.Config, json_path: Path | None) -> None:
        self._config = config
        self._json_path = json_path
        self._intervals: dict[str, list[Any]] = {}
        self._touches: dict[str, list[Touch]] = defaultdict(list)
        self._failed: list[str] = []

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        known = self._intervals.get(nodeid)
        if known is None:
            self._intervals[nodeid] = [_compat.report_worker(report), report.start, report.stop]
        else:
            known[1], known[2] = min(known[1], report.start), max(known[2], report.stop)
        if report.failed and nodeid not in self._failed:
            self._failed.append(nodeid)
        data = getattr(report, REPORT_ATTRIBUTE, None)
        if isinstance(data, dict):
            for kind, target, changed, where, isolated in data.get("touches", ()):
                self._touches[nodeid].append(
                    Touch(nodeid, str(kind), str(target), bool(changed), str(where), bool(isolated))
                )

    def findings(self) -> dict[str, Any]:
        """What the doctor found, as its JSON (and its section) says it."""
        intervals = [
            Interval(nodeid, str(process), float(start), float(end))
            for nodeid, (process, start, end) in self._intervals.items()
        ]
        touches = [touch for own in self._touches.values() for touch in own]
        conflicts = find_conflicts(touches, intervals)
        alone = self._rerun_alone(self._failed)
        only_overlapped: list[dict[str, Any]] = []
        unexplained: list[str] = []
        for nodeid in self._failed:
            if alone.get(nodeid) != "passed":
                continue
            unexplained.append(nodeid)
            others = overlapped_by(nodeid, intervals)
            only_overlapped.append(
                {
                    "test": nodeid,
                    "overlapped": others,
                    "shared": shared_with(nodeid, others, self._touches),
                }
            )
        found = declarations(conflicts, unexplained)
        return {
            "failed_only_when_overlapped": only_overlapped,
            "failed_alone_too": [n for n in self._failed if alone.get(n) not in (None, "passed")],
            "conflicts": [_conflict_json(c) for c in conflicts],
            "declarations": [
                {"test": d.test, "key": d.key, "exclusive": d.exclusive, "mark": d.mark()}
                for d in found
            ],
            "conftest": conftest_snippet(found) if found else "",
            "subprocesses": sorted(
                {f"{t.test}: {t.target}" for t in touches if t.kind == "subprocess"}
            ),
        }

    def _rerun_alone(self, failed: list[str]) -> dict[str, str]:
        """Each failed test's outcome when run alone (a subprocess of this run)."""
        if not failed:
            return {}
        with tempfile.TemporaryDirectory() as directory:
            xml = Path(directory) / "alone.xml"
            env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
            command = [
                sys.executable, "-m", "pytest", *failed,
                "-n", "0", "--dist=asyncgroup", "--asyncgroup-concurrency=1",
                "-p", "no:cacheprovider", "-p", "no:randomly", "-q",
                f"--junitxml={xml}", "-o", "junit_family=xunit2",
            ]  # fmt: skip
            try:
                subprocess.run(
                    command,
                    cwd=self._config.invocation_params.dir,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=RERUN_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                return {}
            return _outcomes(xml, failed) if xml.exists() else {}

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        found = self.findings()
        write = terminalreporter.write_line
        terminalreporter.write_sep("=", "asyncgroup doctor")
        only = found["failed_only_when_overlapped"]
        write(f"failed only when overlapped (passed when run alone): {len(only)}")
        for entry in only:
            shared = "; ".join(entry["shared"]) or "nothing the doctor can see"
            beside = ", ".join(entry["overlapped"][:5]) or "no test"
            write(f"  {entry['test']}: beside {beside}; touched in common: {shared}")
        if found["failed_alone_too"]:
            write(f"failed when run alone too: {len(found['failed_alone_too'])}")
        conflicts = found["conflicts"]
        write(f"conflicts between overlapping tests: {len(conflicts)}")
        for conflict in conflicts:
            write(f"  {conflict['kind']} {conflict['target']}:")
            for test, where in conflict["changed_by"].items():
                write(f"    changed by {test} ({where or 'no frame of the suite'})")
            for test, where in conflict["read_by"].items():
                write(f"    read by {test} ({where or 'no frame of the suite'})")
            for test, where in conflict["found_by"].items():
                write(
                    f"    found by {test} ({where or 'no frame of the suite'}) with a bind to"
                    " port 0, closed, then bound again (find, then bind): something"
                    " else bound it in between"
                )
            if conflict["found_by"]:
                write(
                    "    no key removes it (the port differs every run): bind the server"
                    " to port 0 and read its port back, or keep the finding socket"
                    " open until the server has bound"
                )
        if found["declarations"]:
            write("declarations that remove them:")
            for declaration in found["declarations"]:
                write(f"  {declaration['test']}: {declaration['mark']}")
            write("the same as a conftest.py snippet:")
            for line in found["conftest"].splitlines():
                write(f"  {line}")
        if self._json_path is not None:
            self._json_path.parent.mkdir(parents=True, exist_ok=True)
            self._json_path.write_text(json.dumps(found, indent=2) + "\n")
            write(f"doctor: {self._json_path}")


def _conflict_json(conflict: Conflict) -> dict[str, Any]:
    return {
        "kind": conflict.kind,
        "target": conflict.target,
        "changed_by": dict(sorted(conflict.changers.items())),
        "read_by": dict(sorted(conflict.readers.items())),
        "overlapping": [list(pair) for pair in sorted(conflict.pairs)],
        "found_by": dict(conflict.found_by),
        "key": None if conflict.process_wide or conflict.found_then_bound else conflict.key,
    }


def _outcomes(xml: Path, nodeids: list[str]) -> dict[str, str]:
    """nodeid -> passed / failed / error / skipped, from the re-run's JUnit XML."""
    by_name: dict[tuple[str, str], str] = {}
    for case in ET.parse(xml).iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = "failed" if child.tag == "failure" else child.tag
        by_name[(case.get("classname", ""), case.get("name", ""))] = outcome
    outcomes: dict[str, str] = {}
    for nodeid in nodeids:
        path, _, rest = nodeid.partition("::")
        parts = rest.split("::")
        module = path.removesuffix(".py").replace("/", ".")
        classname = ".".join([module, *parts[:-1]])
        found = by_name.get((classname, parts[-1]))
        if found is not None:
            outcomes[nodeid] = found
    return outcomes
