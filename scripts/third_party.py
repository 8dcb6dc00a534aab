"""Run real third-party test suites plain and under ``-n 2 --dist=asyncgroup``; compare.

For each project (a pinned release whose tests use pytest-asyncio, or anyio's
plugin, run offline and ship in its sdist):

1. download the sdist from PyPI (``pip download --no-binary :all:``);
2. make a venv under ``benchmarks/.work/third_party/<name>/venv`` and install the
   project, its test requirements (pinned), pytest-asyncio and this repository
   (a fresh non-editable build of the working tree, so both runs test the same
   snapshot);
3. unpack a pristine copy of the sdist for each run and run its tests with the
   project's own configuration, twice:

   - plain: ``python -m pytest -p no:cacheprovider -p no:pytest_asyncgroup``
   - asyncgroup: ``python -m pytest -p no:cacheprovider -n 2 --dist=asyncgroup``

4. compare the outcome of every test, read from each run's JUnit XML (key:
   ``classname::name``), and print a table and every test whose outcome differs.

A project may list tests that are not safe to run concurrently on one event
loop (they patch a module, share files, or time a process-wide
thread): the asyncgroup run marks them ``serial``, as a user adopting
pytest-asyncgroup would, through a plugin this script writes beside the venv
(``asyncgroup_declarations.py``, loaded with ``-p``); the plain run is unchanged.

Outcomes are ``passed``, ``failed``, ``error``, ``skipped``, ``xfailed`` and
``xpassed``; JUnit XML records a non-strict xpass as a pass, so ``xpassed`` here
means a strict one. A test with a call failure and a teardown error is
``error+failed``. Exit status: 0 when every test has the same outcome in both
runs, 1 when any differs, 2 when a run did not finish (a time-out, pytest's
internal or usage error, no XML).

    python scripts/third_party.py [--project NAME ...] [--plain-runs 2] [--timeout S]
        [--alone-fixtures "NAMES"] [--runs N] [--asyncgroup-args "ARGS"] [--doctor [N]]

``--runs 5`` runs the asyncgroup way five times, each compared with the plain
run (uvicorn's websocket tests, issue 25: ``--project uvicorn --runs 5``).
``--asyncgroup-args`` adds arguments to those runs only
(``"--asyncgroup-concurrency=16"``).

``--alone-fixtures "capfd capfdbinary monkeypatch mocker"`` sets the ini
``asyncgroup_alone_fixtures`` for the asyncgroup run (``-o``), for example to
measure the rule before patches were per test.

``--doctor [N]`` checks the doctor (``--asyncgroup-doctor``, issue 21) against
the hand-written marks. The asyncgroup suite runs N times (2 when N is left
out) without them, under the doctor (``doctorN.log``, ``doctorN.json``); the
union of its suggestions (a key exclusive if any run said so) is written as a
plugin (``asyncgroup_doctor_declarations.py``), and the suite runs ``--runs``
times with it and no hand marks, each run compared with plain as above. Then a
table per project: the tests the hand marks cover in the collection, the tests
the doctor named, of those the hand-marked ones (found) and the others (extra
flags, with their share of the unmarked tests), and the runs with the
suggestions whose outcomes were plain; and each hand-marked test it did not
name, with whether its outcome, and the suite's, were plain without the mark
(``--doctor 2 --runs 3``). The exit status is as above, for the runs with the
suggestions (2 too when a doctor run wrote no JSON).

``--plain-runs 2`` runs the plain suite twice and marks tests whose plain
outcomes disagree as flaky. Projects marked ``default=False`` run only when
named with ``--project`` (see their ``note``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from third_party_doctor import (
    Suggestion,
    Tally,
    blocked_in_summary,
    declarations_plugin,
    junit_key,
    merge_suggestions,
    read_suggestions,
    tally,
)

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / ".work" / "third_party"

COMMON_REQUIREMENTS = (
    "pytest==9.2.0",
    "pytest-asyncio==1.5.0",
    "pytest-xdist==3.8.0",
    "execnet==2.1.2",
    "greenlet==3.5.6",
)
"""Installed in every project's venv, beside the project's own test requirements."""

PLAIN_ARGS = ("-p", "no:pytest_asyncgroup")
ASYNCGROUP_ARGS = ("-n", "2", "--dist=asyncgroup")

DECLARATIONS_PLUGIN = "asyncgroup_declarations"
DECLARATIONS = '''"""Written by scripts/third_party.py: tests of this suite that run alone."""

import pytest

SERIAL = {serial!r}


def _listed(nodeid, name):
    return nodeid == name or nodeid.startswith((name + "::", name + "["))


def pytest_collection_modifyitems(items):
    unmatched = set(SERIAL)
    for item in items:
        names = [name for name in SERIAL if _listed(item.nodeid, name)]
        if names:
            item.add_marker(pytest.mark.serial)
            unmatched.difference_update(names)
    if unmatched:
        raise pytest.UsageError(f"no test matches {{sorted(unmatched)}}")
'''
"""A pytest plugin marking ``Project.serial`` tests, loaded by the asyncgroup run."""
DOCTOR_PLUGIN = "asyncgroup_doctor_declarations"
"""The plugin applying the doctor's merged suggestions (``--doctor``)."""


@dataclass(frozen=True)
class Project:
    """A pinned release of a project whose tests run under pytest-asyncio."""

    name: str
    version: str
    requirements: tuple[str, ...]
    """Test requirements, pinned, installed with the project."""
    pytest_args: tuple[str, ...] = ()
    """Added to both runs, after the project's own configuration."""
    serial: tuple[str, ...] = ()
    """Node ids (or their prefixes: a file, a test without its parameters) marked
    ``serial`` in the asyncgroup run: tests not safe to run beside others."""
    note: str = ""
    """Why the arguments, the ``serial`` tests, or why the project is not default."""
    default: bool = True
    extras: str = ""
    """The project's extras to install with it (``standard``: ``uvicorn[standard]``)."""
    pytest_asyncio: bool = True
    """Install pytest-asyncio (False: the suite uses anyio's plugin alone)."""


PROJECTS = (
    Project(
        name="async-timeout",
        version="5.0.1",
        requirements=("pytest-cov==7.1.0", "coverage==7.17.4"),
        serial=("tests/test_timeout.py::test_timeout_blocking_loop",),
        note=(
            "Serial: test_timeout_blocking_loop blocks the loop for 0.1 s (time.sleep),"
            " which can push a neighbour's timed 0.1 s sleep past its 0.3 s bound"
            " (test_timeout_disable failed so once, under load)"
        ),
    ),
    Project(
        name="async-lru",
        version="2.4.0",
        requirements=("pytest-cov==7.1.0", "coverage==7.17.4", "pytest-timeout==2.4.0"),
        pytest_args=(
            "-o",
            "addopts=-s --keep-duplicates --no-cov-on-fail --cov=async_lru --cov=tests/",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
        ),
        serial=("tests/test_ttl.py::test_ttl_with_jitter_basic",),
        note=(
            "addopts without --cache-clear (the cache plugin is off) and the HTML report;"
            " its filterwarnings=error turns pytest-asyncio 1.5's warning about the unset"
            " fixture loop scope into an internal error, so the scope is set."
            " Serial: test_ttl_with_jitter_basic patches random.uniform for the process,"
            " which gives test_ttl_with_jitter_zero a jitter when they overlap"
        ),
    ),
    Project(
        name="aiosignal",
        version="1.4.0",
        requirements=(
            "pytest-cov==7.1.0",
            "coverage==7.17.4",
            "frozenlist==1.8.0",
            "typing-extensions==4.16.0",
        ),
    ),
    Project(
        name="janus",
        version="2.0.0",
        requirements=("pytest-cov==7.1.0", "coverage==7.17.4"),
        pytest_args=("--ignore=tests/test_benchmarks.py",),
        note=(
            "the benchmarks need pytest-codspeed. test_closed_loop_non_failing patches"
            " the running loop's is_closed(): the patch is its own (loop overlay)"
        ),
    ),
    Project(
        name="asgiref",
        version="3.13.0",
        requirements=("packaging==26.4",),
        serial=("tests/test_wsgi.py", "tests/test_testing.py::test_receive_nothing"),
        note=(
            "without pytest-benchmark, so tests/test_benchmark_local.py skips itself."
            " Serial: the WSGI tests wait at most 1 s (receive_nothing 0.1 s) for an app"
            " that runs on asgiref's one process-wide thread-sensitive thread, which"
            " other tests hold for a second (time.sleep(1) in sync_to_async)"
        ),
    ),
    Project(
        name="aiolimiter",
        version="1.3.0",
        requirements=("dunamai==1.26.5", "typing-extensions==4.16.0"),
        pytest_args=("-o", "addopts="),
        note=(
            "addopts without coverage; test_version needs a git checkout and fails in"
            " both runs. The tests using MockLoopTime patch the running loop's time():"
            " the patch is their own (loop overlay)"
        ),
    ),
    Project(
        name="aiofiles",
        version="25.1.0",
        requirements=("pytest-cov==7.1.0", "coverage==7.17.4"),
        serial=("tests/test_os.py",),
        note=(
            "test_access fails as root in both runs. Serial: the tests in test_os.py"
            " create, rename and delete the same file names under tests/resources"
        ),
    ),
    Project(
        name="aiostream",
        version="0.8.1",
        requirements=("pytest-cov==7.1.0", "coverage==7.17.4", "typing-extensions==4.16.0"),
        serial=tuple(
            f"tests/test_{name}.py"
            for name in (
                "advanced",
                "aggregate",
                "aiter",
                "combine",
                "core",
                "create",
                "misc",
                "pipe",
                "select",
                "task_group",
                "time",
                "transform",
            )
        ),
        note=(
            "not default: its conftest makes the loop with pytest-asyncio's"
            " pytest_asyncio_loop_factories hook, a virtual-time loop class that counts"
            " steps and open resources for the test running on it. The worker's one"
            " loop is made with it, but tests overlapping on it mix their counts and"
            " clocks: every test is serial"
        ),
        default=False,
    ),
    Project(
        name="uvicorn",
        version="0.54.0",
        extras="standard",
        pytest_asyncio=False,
        requirements=(
            "pytest-mock==3.17.0",
            "anyio==4.16.0",
            "trustme==1.2.1",
            "cryptography==51.0.1",
            "httpx2==2.17.0",
            "wsproto==1.3.2",
            "a2wsgi==1.10.10",
            "websockets==17.4",
            "httptools==0.9.0",
            "uvloop==0.23.0",
        ),
        pytest_args=(
            "-o",
            "addopts=",
            "-o",
            "xfail_strict=true",
            "-k",
            "not zttp",
            "tests/protocols/test_websocket.py",
        ),
        note=(
            "not default: the websocket tests (issue 25), on anyio's pytest plugin;"
            " addopts without -n 8. Several tests give the client 0.1 s to connect"
            " (test_send_close_on_server_shutdown, test_connection_lost_before_handshake"
            "_complete): on one loop beside neighbours that spend 20 ms each making an"
            " SSL context (httpx2.AsyncClient()), that window is missed on a busy machine"
            " (a loaded machine: 4 of 5 runs differ at the default 64, none at 16;"
            " --asyncgroup-args '--asyncgroup-concurrency=16 --timeout=30', the timeout"
            " failing a test that uvicorn's shutdown race hangs). Repeat with --runs"
        ),
        default=False,
    ),
)


@dataclass(frozen=True)
class Outcome:
    """One test's outcome in one run, and the head of its failure message."""

    outcome: str
    message: str = ""


@dataclass
class RunResult:
    """One pytest run of a project's suite."""

    label: str
    returncode: int | None
    """``None`` when the run timed out."""
    seconds: float
    log: Path
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    @property
    def broken(self) -> str | None:
        """Why the run did not finish normally, or ``None``."""
        if self.returncode is None:
            return "timed out"
        if self.returncode not in (0, 1):
            return f"pytest exit status {self.returncode}"
        if not self.outcomes:
            return "no test in the JUnit XML"
        return None


@dataclass
class Comparison:
    """Both runs of one project, compared test by test."""

    project: Project
    plain: list[RunResult]
    asyncgroup: RunResult
    same: list[str]
    different: list[str]
    flaky: set[str]


def run(command: Sequence[str], cwd: Path | None = None) -> None:
    """Run a set-up command, failing loudly with its output."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}")


def download_sdist(project: Project, directory: Path) -> Path:
    """The project's sdist from PyPI, downloaded once into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    found = _sdists(directory)
    if not found:
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--dest",
                str(directory),
                f"{project.name}=={project.version}",
            ]
        )
        found = _sdists(directory)
    if len(found) != 1:
        raise SystemExit(f"expected one sdist in {directory}, found {found}")
    return found[0]


def _sdists(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.tar.gz"))


def unpack(sdist: Path, destination: Path) -> Path:
    """A pristine copy of the sdist in ``destination``; return its top directory."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    with tarfile.open(sdist) as archive:
        archive.extractall(destination, filter="data")
    (top,) = destination.iterdir()
    if not (top / "tests").is_dir():
        raise SystemExit(f"{sdist.name} ships no tests/ directory")
    return top


def make_venv(project: Project, directory: Path, source: Path) -> Path:
    """A venv with the project, its test requirements and this repository; its python."""
    python = directory / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", str(directory)])
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    target = f"{source}[{project.extras}]" if project.extras else str(source)
    common = [r for r in COMMON_REQUIREMENTS if project.pytest_asyncio or "asyncio" not in r]
    run([*pip, target, *common, *project.requirements])
    # Always a fresh build of the working tree: both runs test the same snapshot.
    run([*pip, "--force-reinstall", "--no-deps", str(REPO)])
    return python


def write_declarations(project: Project, directory: Path) -> tuple[str, ...]:
    """Write the plugin marking the project's ``serial`` tests; the pytest arguments."""
    if not project.serial:
        return ()
    plugin = directory / f"{DECLARATIONS_PLUGIN}.py"
    plugin.write_text(DECLARATIONS.format(serial=project.serial))
    return ("-p", DECLARATIONS_PLUGIN)


def run_suite(
    python: Path,
    source: Path,
    label: str,
    args: Sequence[str],
    timeout: float,
    pythonpath: Path | None = None,
) -> RunResult:
    """Run pytest in ``source`` with ``args``; read the JUnit XML it writes."""
    junit = source.parent.parent / f"{label}.xml"
    log = source.parent.parent / f"{label}.log"
    junit.unlink(missing_ok=True)
    command = [
        str(python),
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        f"--junitxml={junit}",
        *args,
    ]
    started = time.perf_counter()
    returncode = _run_with_timeout(command, source, log, timeout, pythonpath)
    result = RunResult(label, returncode, time.perf_counter() - started, log)
    if junit.exists():
        result.outcomes = read_junit(junit)
    return result


def _run_with_timeout(
    command: Sequence[str], cwd: Path, log: Path, timeout: float, pythonpath: Path | None
) -> int | None:
    """The command's exit status, or ``None`` after killing its process group."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    with log.open("w") as output:
        output.write(" ".join(command) + "\n\n")
        output.flush()
        process = subprocess.Popen(
            command,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            output.write(f"\n\n*** killed after {timeout:g} s ***\n")
            return None


def read_junit(path: Path) -> dict[str, Outcome]:
    """Every test's outcome in a JUnit XML file, keyed ``classname::name``."""
    found: dict[str, list[Outcome]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        key = f"{case.get('classname', '')}::{case.get('name', '')}"
        found.setdefault(key, []).append(testcase_outcome(case))
    return {key: merge(outcomes) for key, outcomes in found.items()}


def testcase_outcome(case: ET.Element) -> Outcome:
    """A ``<testcase>``'s outcome (pytest writes one child per non-passing phase)."""
    kinds: list[str] = []
    message = ""
    for child in case:
        kind = _child_outcome(child)
        if kind is None:
            continue
        kinds.append(kind)
        if not message and kind in ("failed", "error"):
            message = message_head(child.get("message") or child.text or "")
    return Outcome("+".join(sorted(set(kinds))) or "passed", message)


def _child_outcome(child: ET.Element) -> str | None:
    if child.tag == "failure":
        return "failed"
    if child.tag == "error":
        return "error"
    if child.tag == "skipped":
        if child.get("type") == "pytest.xfail":
            return "xfailed"
        if child.get("message") == "xfail-marked test passes unexpectedly":
            return "xpassed"
        return "skipped"
    return None


def merge(outcomes: Sequence[Outcome]) -> Outcome:
    """One test's outcome from its ``<testcase>`` elements (two for call + teardown)."""
    if len(outcomes) == 1:
        return outcomes[0]
    kinds = sorted({part for o in outcomes for part in o.outcome.split("+")} - {"passed"})
    message = next((o.message for o in outcomes if o.message), "")
    return Outcome("+".join(kinds) or "passed", message)


def message_head(message: str, width: int = 160) -> str:
    """The first non-empty line of a failure message, shortened to ``width``."""
    line = next((line.strip() for line in message.splitlines() if line.strip()), "")
    return line if len(line) <= width else line[: width - 3] + "..."


def compare(project: Project, plain: list[RunResult], asyncgroup: RunResult) -> Comparison:
    """Which tests have the same outcome under asyncgroup as in the first plain run."""
    reference = plain[0].outcomes
    flaky = {
        key
        for run_ in plain[1:]
        for key in reference.keys() | run_.outcomes.keys()
        if _kind(reference.get(key)) != _kind(run_.outcomes.get(key))
    }
    same: list[str] = []
    different: list[str] = []
    for key in sorted(reference.keys() | asyncgroup.outcomes.keys()):
        if _kind(reference.get(key)) == _kind(asyncgroup.outcomes.get(key)):
            same.append(key)
        else:
            different.append(key)
    return Comparison(project, plain, asyncgroup, same, different, flaky)


def _kind(outcome: Outcome | None) -> str:
    return outcome.outcome if outcome is not None else "missing"


def counts(result: RunResult) -> str:
    """``passed=12 failed=1`` for one run."""
    tally: dict[str, int] = {}
    for outcome in result.outcomes.values():
        tally[outcome.outcome] = tally.get(outcome.outcome, 0) + 1
    return " ".join(f"{kind}={n}" for kind, n in sorted(tally.items()))


def check_project(
    project: Project,
    plain_runs: int,
    timeout: float,
    alone_fixtures: str | None = None,
    runs: int = 1,
    extra_args: Sequence[str] = (),
) -> list[Comparison]:
    """Download, install and run one project both ways (the asyncgroup way ``runs``
    times, each with ``extra_args``); compare each asyncgroup run with the plain one."""
    root, sdist, python = prepare(project)
    plain = run_plain(project, root, sdist, python, plain_runs, timeout)
    declarations = write_declarations(project, root)
    args = (*declarations, *project.pytest_args, *_alone(alone_fixtures), *extra_args)
    return run_asyncgroup(project, root, sdist, python, plain, args, timeout, runs)


def prepare(project: Project) -> tuple[Path, Path, Path]:
    """The project's directory, its sdist and its venv's python, made if missing."""
    root = WORK / project.name
    sdist = download_sdist(project, root / "sdist")
    python = make_venv(project, root / "venv", unpack(sdist, root / "install"))
    return root, sdist, python


def run_plain(
    project: Project, root: Path, sdist: Path, python: Path, plain_runs: int, timeout: float
) -> list[RunResult]:
    """The plain runs (``plain``, ``plain2``, ...), each in a pristine copy."""
    plain: list[RunResult] = []
    for number in range(1, plain_runs + 1):
        label = "plain" if number == 1 else f"plain{number}"
        source = unpack(sdist, root / label)
        args = (*PLAIN_ARGS, *project.pytest_args)
        plain.append(run_suite(python, source, label, args, timeout))
        print(_run_line(project, plain[-1]), flush=True)
    return plain


def run_asyncgroup(
    project: Project,
    root: Path,
    sdist: Path,
    python: Path,
    plain: list[RunResult],
    args: Sequence[str],
    timeout: float,
    runs: int,
) -> list[Comparison]:
    """``runs`` asyncgroup runs with ``args`` (after ``-n 2 --dist=asyncgroup``), each
    compared with the plain runs; plugins written in ``root`` are importable."""
    comparisons = []
    for number in range(1, runs + 1):
        label = "asyncgroup" if number == 1 else f"asyncgroup{number}"
        source = unpack(sdist, root / label)
        asyncgroup = run_suite(
            python, source, label, (*ASYNCGROUP_ARGS, *args), timeout, pythonpath=root
        )
        print(_run_line(project, asyncgroup), flush=True)
        comparisons.append(compare(project, plain, asyncgroup))
    return comparisons


def _alone(alone_fixtures: str | None) -> tuple[str, ...]:
    if alone_fixtures is None:
        return ()
    return ("-o", f"asyncgroup_alone_fixtures={alone_fixtures}")


@dataclass
class DoctorCheck:
    """One project run under the doctor without its hand-written marks, then with
    the doctor's merged suggestions."""

    project: Project
    doctor: list[RunResult]
    missing_json: list[str]
    """Labels of the doctor runs that wrote no JSON."""
    suggestions: list[Suggestion]
    tally: Tally
    blocked: dict[str, float]
    """Tests the doctor runs' summaries name as blocking the loop (node id -> s)."""
    comparisons: list[Comparison]

    @property
    def as_plain(self) -> int:
        """The runs with the suggestions applied that had the plain run's outcomes."""
        return sum(1 for c in self.comparisons if not c.different and not _broken(c))


def doctor_project(
    project: Project,
    doctor_runs: int,
    plain_runs: int,
    timeout: float,
    alone_fixtures: str | None = None,
    runs: int = 1,
    extra_args: Sequence[str] = (),
) -> DoctorCheck:
    """Run the doctor ``doctor_runs`` times without the hand-written marks, merge its
    suggestions, and run the asyncgroup way ``runs`` times with them applied."""
    root, sdist, python = prepare(project)
    plain = run_plain(project, root, sdist, python, plain_runs, timeout)
    shared = (*project.pytest_args, *_alone(alone_fixtures), *extra_args)
    doctor: list[RunResult] = []
    found: list[list[Suggestion]] = []
    missing: list[str] = []
    blocked: dict[str, float] = {}
    for number in range(1, doctor_runs + 1):
        label = f"doctor{number}"
        path = root / f"{label}.json"
        path.unlink(missing_ok=True)
        args = (*ASYNCGROUP_ARGS, "--asyncgroup-doctor", f"--asyncgroup-doctor-json={path}")
        doctor.append(
            run_suite(python, unpack(sdist, root / label), label, (*args, *shared), timeout)
        )
        print(_run_line(project, doctor[-1]), flush=True)
        if path.exists():
            found.append(read_suggestions(json.loads(path.read_text())))
        else:
            missing.append(label)
        for nodeid, seconds in blocked_in_summary(doctor[-1].log.read_text()).items():
            blocked[nodeid] = max(blocked.get(nodeid, 0.0), seconds)
    suggestions = merge_suggestions(found)
    plugin: tuple[str, ...] = ()
    if suggestions:
        (root / f"{DOCTOR_PLUGIN}.py").write_text(declarations_plugin(suggestions))
        plugin = ("-p", DOCTOR_PLUGIN)
    comparisons = run_asyncgroup(
        project, root, sdist, python, plain, (*plugin, *shared), timeout, runs
    )
    counted = tally(plain[0].outcomes, project.serial, suggestions)
    return DoctorCheck(project, doctor, missing, suggestions, counted, blocked, comparisons)


def doctor_report(checks: Sequence[DoctorCheck]) -> int:
    """Print the runs with suggestions applied (as :func:`report`), then the doctor's
    table and, per project, what it flagged beyond the hand marks and which hand
    marks it did not name; return the exit status."""
    status = report([c for check in checks for c in check.comparisons])
    header = ("project", "tests", "hand-marked", "named", "found", "extra flags", "as plain after")
    rows = [_doctor_row(check) for check in checks]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print("\ndoctor (found: hand-marked tests it named; extra: unmarked tests it named;")
    print("as plain: runs with its merged suggestions, and no hand marks, as plain)")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    for check in checks:
        status = max(status, _doctor_details(check))
    return status


def _doctor_row(check: DoctorCheck) -> tuple[str, ...]:
    t = check.tally
    found = f"{len(t.found)} of {len(t.hand)} ({t.found_share:.0%})" if t.hand else "-"
    runs = len(check.comparisons)
    return (
        f"{check.project.name} {check.project.version}",
        str(len(t.tests)),
        str(len(t.hand)),
        str(len(t.named & t.tests)),
        found,
        f"{len(t.extra)} of {t.unmarked} ({t.extra_share:.1%})",
        f"{check.as_plain} of {runs}",
    )


def _doctor_details(check: DoctorCheck) -> int:
    """Print one project's reasons, extra flags and missed marks; its exit status."""
    t, name, status = check.tally, check.project.name, 0
    broken = [f"{r.label}: {r.broken}" for r in check.doctor if r.broken]
    broken += [f"{label}: no doctor JSON" for label in check.missing_json]
    if broken:
        print(f"\n{name}: doctor run did not finish normally ({'; '.join(broken)})")
        status = 2
    reasons: dict[str, str] = {}
    for s in check.suggestions:
        known = reasons.get(junit_key(s.test))
        own = {s.reason} | (set(known.split("+")) if known else set())
        reasons[junit_key(s.test)] = "+".join(sorted(own))
    for title, tests in (("found", t.found), ("extra", t.extra)):
        if tests:
            print(f"\n{name}: {title}, by reason: {_by_reason(tests, reasons)}")
    for key in sorted(t.extra):
        print(f"  extra: {key} ({reasons[key]})")
    for key in sorted(t.uncollected):
        print(f"  named but not collected (a key that did not convert?): {key}")
        status = max(status, 1)
    if t.missed:
        runs = len(check.comparisons)
        print(f"\n{name}: hand-marked, not named by the doctor: {len(t.missed)}")
        blocked = {junit_key(nodeid): s for nodeid, s in check.blocked.items()}
        for key in sorted(t.missed):
            same = sum(1 for c in check.comparisons if key in c.same)
            note = (
                f"; the summary names it blocking the loop {blocked[key]:.2f} s"
                if key in blocked
                else ""
            )
            print(f"  {key}: its outcome as plain in {same} of {runs} runs without the mark{note}")
        needed = "not needed" if check.as_plain == runs else "needed, or the doctor missed another"
        print(f"  the suite had plain outcomes in {check.as_plain} of {runs} runs: {needed}")
    return status


def _by_reason(tests: Iterable[str], reasons: dict[str, str]) -> str:
    tally_: dict[str, int] = {}
    for key in tests:
        tally_[reasons[key]] = tally_.get(reasons[key], 0) + 1
    return ", ".join(f"{reason} {n}" for reason, n in sorted(tally_.items()))


def _broken(c: Comparison) -> bool:
    return any(r.broken for r in [*c.plain, c.asyncgroup])


def _run_line(project: Project, result: RunResult) -> str:
    status = result.broken or f"exit {result.returncode}"
    return (
        f"  {project.name} {result.label}: {result.seconds:.1f} s, {status}, "
        f"{counts(result)} (log: {result.log.relative_to(REPO)})"
    )


def report(comparisons: Iterable[Comparison]) -> int:
    """Print the table and the differing tests; return the exit status."""
    comparisons = list(comparisons)
    header = ("project", "version", "tests", "same outcome", "different")
    rows = [
        (
            _name(c),
            c.project.version,
            str(len(c.same) + len(c.different)),
            str(len(c.same)),
            str(len(c.different)),
        )
        for c in comparisons
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print()
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    status = 0
    for c in comparisons:
        broken = [f"{r.label}: {r.broken}" for r in [*c.plain, c.asyncgroup] if r.broken]
        if broken:
            print(f"\n{_name(c)}: run did not finish normally ({'; '.join(broken)})")
            status = 2
        if c.different:
            status = max(status, 1)
            print(f"\n{_name(c)} {c.project.version}: {len(c.different)} differ")
            if any(not r.outcomes for r in [*c.plain, c.asyncgroup]):
                print("  (not listed: a run wrote no outcomes)")
                continue
            for key in c.different:
                _print_difference(key, c)
        if c.flaky:
            print(f"\n{c.project.name}: flaky in plain runs: {', '.join(sorted(c.flaky))}")
    return status


def _name(c: Comparison) -> str:
    """The project's name, with the asyncgroup run's label after the first."""
    label = c.asyncgroup.label
    return c.project.name if label == "asyncgroup" else f"{c.project.name} ({label})"


def _print_difference(key: str, c: Comparison) -> None:
    plain = c.plain[0].outcomes.get(key)
    ours = c.asyncgroup.outcomes.get(key)
    flaky = " (flaky in plain)" if key in c.flaky else ""
    print(f"  {key}{flaky}")
    print(f"    plain:      {_kind(plain)}  {plain.message if plain else ''}".rstrip())
    print(f"    asyncgroup: {_kind(ours)}  {ours.message if ours else ''}".rstrip())


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [p.name for p in PROJECTS]
    parser.add_argument(
        "--project",
        action="append",
        choices=names,
        help="run this project (repeatable; default: every project marked default)",
    )
    parser.add_argument(
        "--plain-runs", type=int, default=1, help="plain runs, to spot flaky tests (default 1)"
    )
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds allowed per pytest run (default 600)"
    )
    parser.add_argument(
        "--runs", type=int, default=1, help="asyncgroup runs, each compared (default 1)"
    )
    parser.add_argument(
        "--asyncgroup-args",
        default="",
        metavar="ARGS",
        help="more arguments for the asyncgroup runs (split on spaces)",
    )
    parser.add_argument(
        "--alone-fixtures",
        metavar="NAMES",
        help="asyncgroup_alone_fixtures for the asyncgroup run (space-separated fixture names)",
    )
    parser.add_argument(
        "--doctor",
        type=int,
        nargs="?",
        const=2,
        metavar="N",
        help="without the hand-written serial marks: N doctor runs (default 2), then"
        " --runs asyncgroup runs with its merged suggestions applied",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = [p for p in PROJECTS if (p.name in args.project if args.project else p.default)]
    if args.doctor is not None:
        return doctor_report(
            [
                doctor_project(
                    project,
                    max(1, args.doctor),
                    max(1, args.plain_runs),
                    args.timeout,
                    args.alone_fixtures,
                    max(1, args.runs),
                    args.asyncgroup_args.split(),
                )
                for project in _announced(chosen)
            ]
        )
    comparisons = []
    for project in _announced(chosen):
        comparisons.extend(
            check_project(
                project,
                max(1, args.plain_runs),
                args.timeout,
                args.alone_fixtures,
                max(1, args.runs),
                args.asyncgroup_args.split(),
            )
        )
    return report(comparisons)


def _announced(projects: Iterable[Project]) -> Iterator[Project]:
    """Each project, after printing its name and note."""
    for project in projects:
        print(f"{project.name}=={project.version}", flush=True)
        if project.note:
            print(f"  note: {project.note}", flush=True)
        yield project


if __name__ == "__main__":
    sys.exit(main())
