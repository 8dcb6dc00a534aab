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
        [--alone-fixtures "NAMES"] [--runs N] [--asyncgroup-args "ARGS"]

``--runs 5`` runs the asyncgroup way five times, each compared with the plain
run (uvicorn's websocket tests, issue 25: ``--project uvicorn --runs 5``).
``--asyncgroup-args`` adds arguments to those runs only
(``"--asyncgroup-concurrency=16"``).

``--alone-fixtures "capfd capfdbinary monkeypatch mocker"`` sets the ini
``asyncgroup_alone_fixtures`` for the asyncgroup run (``-o``), for example to
measure the rule before patches were per test.

``--plain-runs 2`` runs the plain suite twice and marks tests whose plain
outcomes disagree as flaky. Projects marked ``default=False`` run only when
named with ``--project`` (see their ``note``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
    root = WORK / project.name
    sdist = download_sdist(project, root / "sdist")
    python = make_venv(project, root / "venv", unpack(sdist, root / "install"))
    plain: list[RunResult] = []
    for number in range(1, plain_runs + 1):
        label = "plain" if number == 1 else f"plain{number}"
        source = unpack(sdist, root / label)
        args = (*PLAIN_ARGS, *project.pytest_args)
        plain.append(run_suite(python, source, label, args, timeout))
        print(_run_line(project, plain[-1]), flush=True)
    args = (*ASYNCGROUP_ARGS, *write_declarations(project, root), *project.pytest_args)
    if alone_fixtures is not None:
        args = (*args, "-o", f"asyncgroup_alone_fixtures={alone_fixtures}")
    comparisons = []
    for number in range(1, runs + 1):
        label = "asyncgroup" if number == 1 else f"asyncgroup{number}"
        source = unpack(sdist, root / label)
        asyncgroup = run_suite(
            python, source, label, (*args, *extra_args), timeout, pythonpath=root
        )
        print(_run_line(project, asyncgroup), flush=True)
        comparisons.append(compare(project, plain, asyncgroup))
    return comparisons


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
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = [p for p in PROJECTS if (p.name in args.project if args.project else p.default)]
    comparisons = []
    for project in chosen:
        print(f"{project.name}=={project.version}", flush=True)
        if project.note:
            print(f"  note: {project.note}", flush=True)
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


if __name__ == "__main__":
    sys.exit(main())
