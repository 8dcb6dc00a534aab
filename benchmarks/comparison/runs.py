"""One measured pytest command: wall time, CPU time, outcome counts, first error, peak memory.

The wall time is the whole command (interpreter start, plugin loading,
collection, xdist workers, tests, teardown), as a person waiting for it sees it.
The CPU time is user + system time of every process of the run (the pytest
process and the xdist workers it reaps), from ``getrusage(RUSAGE_CHILDREN)``
before and after: runs go one at a time, so the difference is this run's.
A run that exceeds its timeout is killed with its whole process group (xdist
workers included) and recorded as timed out; a run that crashes is recorded with
its exit code and the first line that says why.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import signal
import subprocess
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

from comparison.dialects import Dialect
from comparison.environments import Environment

PROBE_DIRECTORY = Path(__file__).with_name("probe")
BASE_ARGS = ("-q", "-p", "no:cacheprovider", "-p", "bench_rss_probe")

SUMMARY = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")
SUMMARY_LINE = re.compile(r"\bin \d+(\.\d+)?s\b")


@dataclass(frozen=True)
class Runner:
    """A way to run the suite: an environment, a dialect and pytest arguments."""

    name: str
    env: Environment
    dialect: Dialect
    args: tuple[str, ...] = ()
    runs_tests: bool = True  # False: a start-up baseline that deselects every test

    def command(self) -> list[str]:
        return [str(self.env.python), "-m", "pytest", *BASE_ARGS, *self.args]


@dataclass
class Outcome:
    """What one run of one runner gave."""

    wall: float
    exit_code: int | None  # None: killed at the timeout
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    peak_rss_kb: dict[str, int] = field(default_factory=dict)  # process name -> KiB
    cpu: float | None = None  # user + system seconds, every process of the run

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None

    @property
    def crashed(self) -> bool:
        """Ended other than by running its tests (internal error, usage error, signal, hang).

        Exit code 5 (no tests ran) is not a crash: it is how a start-up baseline ends.
        """
        return self.exit_code not in (0, 1, 5)

    def to_json(self) -> dict[str, object]:
        return {
            "wall": self.wall,
            "exit_code": self.exit_code,
            "counts": self.counts,
            "error": self.error,
            "peak_rss_kb": self.peak_rss_kb,
            "cpu": self.cpu,
        }


NOTHING = ("-k", "nothing_matches_this")
"""Arguments for a run that deselects every test: start-up and collection only."""


def warm(runner: Runner, directory: Path, timeout: float) -> None:
    """Start ``runner`` once on the suite in ``directory``, not measured.

    pytest rewrites the asserts of every test module and of every plugin's
    modules at import, and caches the result in ``__pycache__`` unless
    ``PYTHONDONTWRITEBYTECODE`` is set. The first run of each environment and
    suite pays for it (0.12 s of CPU a process for pytest-asyncgroup's modules,
    more than for the runners with fewer modules); a user's second run does not.
    """
    run(runner, directory, timeout, NOTHING)


def run(runner: Runner, directory: Path, timeout: float, extra: tuple[str, ...] = ()) -> Outcome:
    """Run ``runner`` on the suite in ``directory``; logs stay there for a look afterwards."""
    junit, rss, log = directory / "junit.xml", directory / "rss.jsonl", directory / "run.log"
    for stale in (junit, rss):
        stale.unlink(missing_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(PROBE_DIRECTORY),
        "BENCH_RSS_FILE": str(rss),
    }
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_PLUGINS", None)
    # pytest caches the modules it rewrites (the tests', and every plugin's) next to
    # them, as on a user's machine from the second run on (see ``warm``).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [*runner.command(), f"--junitxml={junit}", *extra]
    start = time.perf_counter()
    cpu_before = _children_cpu()
    with log.open("w") as out:
        process = subprocess.Popen(
            command,
            cwd=directory,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a timeout kills the workers too
        )
        try:
            exit_code: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            exit_code = None
        _kill_group(process)
    wall = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before
    text = log.read_text(errors="replace")
    outcome = Outcome(wall=wall, exit_code=exit_code, cpu=cpu)
    outcome.counts = summary_counts(text) or junit_counts(junit)
    outcome.peak_rss_kb = peak_rss(rss)
    if exit_code is None:
        outcome.error = f"timed out after {timeout:.0f} s (killed)"
    elif exit_code not in (0, 5):
        outcome.error = first_error(text) or f"exit code {exit_code}"
    return outcome


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """End what is left of the run's process group.

    That is a hung run, or what a crash orphaned: xdist workers, or the service
    processes of a suite whose session never reached its teardown.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def summary_counts(text: str) -> dict[str, int]:
    """Counts from pytest's final summary line (``3 failed, 397 passed in 4.1s``)."""
    for line in reversed(text.splitlines()):
        if SUMMARY_LINE.search(line) and (found := SUMMARY.findall(line)):
            counts: dict[str, int] = {}
            for number, word in found:
                word = "errors" if word.startswith("error") else word
                counts[word] = counts.get(word, 0) + int(number)
            return counts
    return {}


def junit_counts(path: Path) -> dict[str, int]:
    """Counts from ``--junitxml``, when the summary line is missing (a crash)."""
    if not path.exists():
        return {}
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError:
        return {}
    counts: dict[str, int] = {}
    for case in root.iter("testcase"):
        tags = {child.tag for child in case}
        word = next((w for t, w in TAGS if t in tags), "passed")
        counts[word] = counts.get(word, 0) + 1
    return counts


TAGS = (("error", "errors"), ("failure", "failed"), ("skipped", "skipped"))

INTERNAL = re.compile(r"^INTERNALERROR> (?:E\s+)?(\w*(?:Error|Exception)\b.*)$")
TEST_ERROR = re.compile(r"^E\s+(\S.*)$")
BARE_ERROR = re.compile(r"^(\w*(?:Error|Exception): \S.*|ERROR: .*)$")


def first_error(text: str) -> str | None:
    """What went wrong, in a line: internal errors (a worker's first), then a test's first.

    xdist wraps a worker's internal error in ``AssertionError: Traceback ...``:
    that wrapper is skipped for the exception it carries.
    """
    found: list[str] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = INTERNAL.match(line)
        if match and not match.group(1).startswith("AssertionError: Traceback"):
            found.append(_with_source(match.group(1).strip(), lines[:index]))
    for pattern in (TEST_ERROR, BARE_ERROR):
        match = next((m for m in map(pattern.match, lines) if m), None)
        if match:
            found.append(match.group(1).strip())
            break
    distinct = list(dict.fromkeys(found))
    return " / ".join(message[:160] for message in distinct[:3]) or None


def _with_source(message: str, before: list[str]) -> str:
    """A bare ``AssertionError`` says nothing: add the line of code that raised it."""
    if ":" in message:
        return message
    for line in reversed(before[-4:]):
        code = line.removeprefix("INTERNALERROR>").strip().removeprefix("E").strip()
        if code and not set(code) <= {"^", "~", " "} and not code.startswith("File "):
            return f"{message} at `{code}`"
    return message


def peak_rss(path: Path) -> dict[str, int]:
    """Peak RSS by process name, from the probe's records."""
    if not path.exists():
        return {}
    peaks: dict[str, int] = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        name = str(record["process"])
        peaks[name] = max(peaks.get(name, 0), int(record["maxrss_kb"]))
    return peaks
