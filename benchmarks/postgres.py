"""The PostgreSQL example (``examples/postgres_service``) under each way of running it.

Writes ``benchmarks/results/postgres.md`` (table, what the summary said, machine,
commands), ``postgres.json`` (every run) and ``postgres.png`` (chart)::

    python benchmarks/postgres.py              # 3 rounds
    python benchmarks/postgres.py --rounds 5

Every runner uses one pinned environment (``benchmarks/.work/venvs/postgres-example``:
pytest, xdist, pytest-asyncio, the example's dependencies, and pytest-asyncgroup
from a snapshot of the last commit, as ``compare.py`` makes them): the runners
differ only in their pytest arguments. pytest-asyncgroup is installed there but
idle in the pytest-asyncio rows (no ``--dist=asyncgroup``); the example needs it
installed for its markers and hook. Each round runs every runner once, in an order rotated
from round to round. Outcomes come from each run's junit XML; a failure whose
message starts with ``overlap:`` is the service's 409 to a hold that broke an
exclusive rule.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from comparison import environments
from comparison.runs import NOTHING

BENCHMARKS = Path(__file__).resolve().parent
REPOSITORY = BENCHMARKS.parent
EXAMPLE = REPOSITORY / "examples" / "postgres_service"
RESULTS = BENCHMARKS / "results"
WORK = BENCHMARKS / ".work"
LOGS = WORK / "postgres-logs"
OURS = "asyncgroup, -n 2"
BASE = ("-q", "-rfE", "-p", "no:cacheprovider", "-p", "no:randomly")


@dataclass
class Runner:
    name: str
    args: tuple[str, ...]
    note: str = ""
    runs_tests: bool = True
    walls: list[float] = field(default_factory=list)
    sessions: list[float] = field(default_factory=list)  # pytest's own "in N s"
    cpu: list[float] = field(default_factory=list)  # user + sys of pytest's processes
    outcomes: list[dict[str, int]] = field(default_factory=list)
    overlaps: list[int] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)  # the last run's asyncgroup summary


RUNNERS = [
    Runner("pytest-asyncio (sequential)", ("-p", "asyncio")),
    Runner("pytest-asyncio, -n 2 --dist load", ("-p", "asyncio", "-n", "2", "--dist", "load")),
    Runner("asyncgroup, one process", ("--dist=asyncgroup",)),
    Runner(OURS, ("-n", "2", "--dist=asyncgroup")),
    Runner(
        "asyncgroup, -n 2, only db per worker",
        ("-n", "2", "--dist=asyncgroup", "-o", "asyncgroup_per_worker=db"),
        note="orders and stock shared keys: one group, one worker (the summary says so)",
    ),
    Runner(
        "start-up only: asyncgroup, -n 2, every test deselected",
        ("-n", "2", "--dist=asyncgroup", *NOTHING),
        note="PostgreSQL's initdb and start, the template, two workers collecting",
        runs_tests=False,
    ),
]


def run_once(runner: Runner, work: Path, timeout: float) -> None:
    junit = work / "junit.xml"
    junit.unlink(missing_ok=True)
    python = environments.POSTGRES_ENV.python
    command = [str(python), "-m", "pytest", str(EXAMPLE), *BASE, *runner.args]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SHOP_TEST"))}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [*command, f"--junitxml={junit}"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=work,
    )
    runner.walls.append(time.perf_counter() - started)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    runner.cpu.append(
        after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    )  # pytest, its xdist workers, initdb and pg_ctl (the server daemonizes: not counted)
    session = re.search(
        r" in (\d+(?:\.\d+)?)s", done.stdout.splitlines()[-1] if done.stdout else ""
    )
    if session:
        runner.sessions.append(float(session.group(1)))
    counts: dict[str, int] = {}
    overlaps = 0
    if junit.exists():
        for case in ElementTree.parse(junit).getroot().iter("testcase"):
            results = [child for child in case if child.tag in ("failure", "error", "skipped")]
            kind = results[0].tag if results else "passed"
            counts[kind] = counts.get(kind, 0) + 1
            if any("overlap:" in (child.get("message") or "") for child in results):
                overlaps += 1
    if done.returncode not in (0, 1, 5):
        counts["crashed"] = done.returncode
        print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
    if set(counts) - {"passed"}:  # keep the evidence of anything but a clean pass
        LOGS.mkdir(parents=True, exist_ok=True)
        log = LOGS / f"{_slug(runner.name)}-{len(runner.walls)}.log"
        log.write_text(shlex.join(command) + "\n" + done.stdout + done.stderr)
        print(f"    not a clean pass: {log}", flush=True)
    runner.outcomes.append(counts)
    runner.overlaps.append(overlaps)
    lines = done.stdout.splitlines()
    if any("asyncgroup summary" in line for line in lines):
        start = next(i for i, line in enumerate(lines) if "asyncgroup summary" in line)
        runner.summary = [line for line in lines[start + 1 :] if not line.startswith("=")]
    print(f"  {runner.name}: {runner.walls[-1]:.2f} s, {counts}, overlaps {overlaps}", flush=True)


def reading(runners: list[Runner]) -> list[str]:
    """What this run's medians say, in words (computed, so a rerun cannot contradict it)."""
    by_name = {runner.name: runner for runner in runners}

    def wall(name: str) -> float:
        return statistics.median(by_name[name].walls)

    def cpu(name: str) -> float:
        return statistics.median(by_name[name].cpu)

    refused = sum(sum(runner.overlaps) for runner in runners)
    broken = (
        "No run broke an exclusive rule: the service refused no test's hold."
        if not refused
        else f"The service refused {refused} holds that broke an exclusive rule: see the table."
    )
    sequential, one, startup = (
        "pytest-asyncio (sequential)",
        "asyncgroup, one process",
        "start-up only: asyncgroup, -n 2, every test deselected",
    )
    return [
        "In words, from the medians above: ours in one process took"
        f" {wall(one) / wall(sequential):.0%} of sequential pytest-asyncio's wall time"
        f" ({wall(one):.1f} s against {wall(sequential):.1f} s), and at -n 2"
        f" {wall(OURS) / wall(sequential):.0%} ({wall(OURS):.1f} s), of which"
        f" {wall(startup):.1f} s is start-up alone. At -n 2 the run used"
        f" {cpu(OURS):.1f} s of CPU against {cpu(one):.1f} s in one process: a second worker"
        " brings its own interpreter, plugins, service and connection pool. Where the cores"
        " are already busy, that CPU is taken from the tests, and the second worker's"
        " concurrency buys little; `-n` pays where cores are idle and the tests' waiting"
        " outweighs a worker's start-up. " + broken,
    ]


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")


def outcome(counts: dict[str, int]) -> str:
    if "crashed" in counts:
        return f"crashed (exit {counts['crashed']})"
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no tests"


def markdown(
    runners: list[Runner], rounds: int, started: datetime, load: tuple[float, float]
) -> str:
    env = environments.POSTGRES_ENV
    ours = statistics.median(next(r for r in runners if r.name == OURS).walls)
    tests = max(sum(counts.values()) for r in runners for counts in r.outcomes)
    lines = [
        "# The PostgreSQL example: a web API over a real database",
        "",
        f"`examples/postgres_service`: {tests} system tests of a Starlette service (uvicorn,"
        " 127.0.0.1) over asyncpg and a PostgreSQL server that each run starts (initdb,"
        " pg_ctl); each xdist worker clones a migrated template database and starts its own"
        " service. Order tests wait 50 ms on a stubbed payment provider inside a"
        " transaction; `orders` tests overlap up to 16 per worker (a 20-connection pool),"
        " stock resets hold `stock` exclusively, a schema migration test is `serial`.",
        "",
        "| runner | median (s) | min-max (s) | ratio to ours | pytest's own time (s) | CPU (s)"
        " | outcome | exclusive rule broken (service's 409s) | notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for runner in runners:
        median = statistics.median(runner.walls)
        name = f"**{runner.name}** (ours)" if runner.name == OURS else runner.name
        kinds = {outcome(counts) for counts in runner.outcomes}
        broken = sum(runner.overlaps)
        lines.append(
            f"| {name} | {median:.2f} | {min(runner.walls):.2f}-{max(runner.walls):.2f} |"
            f" {median / ours:.2f}x |"
            f" {f'{statistics.median(runner.sessions):.2f}' if runner.sessions else '-'} |"
            f" {statistics.median(runner.cpu):.2f} | {'; '.join(sorted(kinds))} |"
            f" {'no' if not broken else f'yes: {broken} in {len(runner.overlaps)} runs'} |"
            f" {runner.note} |"
        )
    lines += ["", *reading(runners), "", "## What the asyncgroup summary said (last round)", ""]
    for runner in runners:
        if runner.summary and runner.runs_tests:
            lines += [f"{runner.name}:", "", "```", *runner.summary, "```", ""]
    lines += [
        "## What to keep in mind",
        "",
        "- Noisy: the machine has 2 cores, shared with other jobs while this ran (load"
        f" average {load[0]:.2f} before, {load[1]:.2f} after), and every run puts PostgreSQL,"
        " the service, its client and pytest on those 2 cores. Ratios between runners of"
        " one round-robin mean more than absolute seconds; rerun it on your machine (below).",
        "- 'pytest's own time' is what pytest prints at the end (from its session's start:"
        " after PostgreSQL has started, with the workers' start-up and collection). 'CPU' is"
        " the user and system time of the pytest command and its children (xdist workers,"
        " initdb, pg_ctl), not of the PostgreSQL server, which runs as a daemon.",
        "- Every run pays PostgreSQL's start-up (initdb, pg_ctl, the template database):"
        " the 'start-up only' row is that cost with every test deselected.",
        "- The service is in each worker's process, on the same event loop as the tests: in"
        " one process the loop serves both sides, so tests beside each other share one"
        " core's time. Against a service on its own machine the gain would be larger.",
        "- `--dist load` is safe here only because each worker has its own database: it"
        " runs one test at a time per worker, so it cannot break a rule.",
        "- 'only db per worker' keeps `orders` and `stock` shared keys, as if all workers"
        " used one database: every test that holds them forms one group, run by one worker.",
        "  The summary names that group (plan against actual) and suggests"
        " `asyncgroup_per_worker`, which is what the example's own `pytest.ini` does.",
        "- The exclusive rule is checked by the service, not by timing: each test takes the"
        " areas it declares (`orders`, `stock`) at the service for its whole duration, and"
        " the service answers 409 (failing the test with `overlap: ...`) to a hold beside"
        " an exclusive one.",
        "",
        "## How it was measured",
        "",
        "![The PostgreSQL example](postgres.png)",
        "",
        f"Command: `python benchmarks/postgres.py --rounds {rounds}` ({rounds} rounds; each"
        " runs every runner once, in an order rotated from round to round). Wall time of the"
        " whole pytest command, PostgreSQL's start and stop included.",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores, Linux"
        f" {platform.release()}, Python {environments.python_version(env)};"
        f" pytest-asyncgroup from commit `{environments.repository_commit()[:12]}` (a"
        " snapshot, not the working tree). Packages: "
        + ", ".join(
            f"{name} {version}"
            for name, version in sorted(environments.versions(env).items())
            if name in environments.REPORTED_PACKAGES
        )
        + ".",
        "",
        "Each runner's command, from a scratch directory, with the environment's Python:",
        "",
    ]
    for runner in runners:
        command = ["python", "-m", "pytest", "examples/postgres_service", *BASE, *runner.args]
        lines.append(f"- {runner.name}: `{shlex.join(command)}`")
    return "\n".join(lines) + "\n"


def chart(runners: list[Runner], out: Path) -> None:
    data = {
        "title": "The PostgreSQL example (examples/postgres_service)",
        "variants": [
            {
                "label": "wall time per run",
                "rows": [
                    {
                        "runner": runner.name,
                        "median": statistics.median(runner.walls),
                        "min": min(runner.walls),
                        "max": max(runner.walls),
                        "status": "ok" if not sum(runner.overlaps) else "broke a rule",
                        "ours": runner.name == OURS,
                        "estimated": False,
                    }
                    for runner in runners
                ],
            }
        ],
    }
    source = WORK / "postgres.chart.json"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(json.dumps(data))
    plot = environments.ensure(environments.PLOT_ENV)
    subprocess.run([plot.python, BENCHMARKS / "comparison" / "chart.py", source, out], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600, help="per run, in seconds")
    parser.add_argument("--out", type=Path, default=RESULTS)
    options = parser.parse_args()
    environments.ensure(environments.POSTGRES_ENV)
    load_before = os.getloadavg()[0]
    started = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="bench-postgres-") as scratch:
        for round_number in range(options.rounds):
            print(f"round {round_number + 1}", flush=True)
            shift = round_number % len(RUNNERS)
            for runner in RUNNERS[shift:] + RUNNERS[:shift]:
                run_once(runner, Path(scratch), options.timeout)
    load = (load_before, os.getloadavg()[0])
    options.out.mkdir(parents=True, exist_ok=True)
    raw = [dict(vars(runner)) for runner in RUNNERS]
    (options.out / "postgres.json").write_text(
        json.dumps({"started": started.isoformat(), "load": load, "runners": raw}, indent=1)
    )
    (options.out / "postgres.md").write_text(markdown(RUNNERS, options.rounds, started, load))
    chart(RUNNERS, options.out / "postgres.png")
    print(f"wrote {options.out / 'postgres.md'} and .png")


if __name__ == "__main__":
    main()
