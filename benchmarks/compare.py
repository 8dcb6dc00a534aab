"""pytest-asyncgroup beside the runners people use today, on the same synthetic suites.

Each runner runs in its own virtual environment (``benchmarks/.work/venvs``, pinned
versions, created on first use) on the same suite written in its dialect, several
rounds, alternating runners; each scenario writes ``benchmarks/results/<name>.md``
(table, targets, machine, versions, commands), ``<name>.json`` (every run) and
``<name>.png`` (chart).

Scenarios (``--scenario``, repeatable, or ``all``):

- ``io``: the I/O-bound suite of the xdist issue, 400 tests.
- ``io-5000``: the same suite replicated to 5,000 tests.
- ``sync``: 5,000 trivial sync tests, the tax on suites that gain nothing.
- ``service``: a system test against a local HTTP service, keys, some exclusive.
- ``scale``: the I/O suite at 5,000 and 20,000 tests: time per test, peak memory.

    python benchmarks/compare.py --scenario io --rounds 3
    python benchmarks/compare.py --scenario all
    python benchmarks/compare.py --quick          # tiny suites, one round: a smoke test
    python benchmarks/compare.py --scenario sync --pairs 12   # ours and --dist load, alternately

``--pairs N`` prints, instead of a page, N interleaved runs of ours at ``-n 2`` and
``--dist load`` with the median of their per-pair ratios: steadier than a ratio of
medians on a machine whose speed drifts between runs. ``--pair A,B`` picks the two
runners (names in :data:`PAIRS`), one for each of issue 22's targets:

    python benchmarks/compare.py --scenario io-5000 --pairs 8 --pair ours,cooperative
    python benchmarks/compare.py --scenario io-5000 --pairs 8 --pair cap100,cooperative
    python benchmarks/compare.py --scenario sync --pairs 24 --pair one,sequential
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from comparison import environments, report, runs, suites
from comparison.environments import Environment
from comparison.report import Row, ScenarioResult, VariantResult
from comparison.runs import NOTHING, Runner
from comparison.suites import IOSuite, ServiceSuite, Suite, SyncSuite

BENCHMARKS = Path(__file__).resolve().parent
WORK = BENCHMARKS / ".work"
RESULTS = BENCHMARKS / "results"

CONCURRENT_ON_9_0 = Environment(
    "pytest-asyncio-concurrent-pytest-9.0",
    ("pytest==9.0.3", environments.CONCURRENT),
)
OURS = "asyncgroup, -n {n}"
CAP_100 = "asyncgroup, -n 0, cap 100 (cooperative's default)"
STARTUP = "start-up only: asyncgroup, -n {n}, every test deselected"
EXTRA = (CAP_100, STARTUP)


def all_runners(n: int) -> dict[str, Runner]:
    """Every runner, by name; ``n`` is the number of xdist workers."""
    e = environments
    workers = ("-n", str(n))
    table = [
        Runner("pytest-asyncio (sequential)", e.PYTEST_ASYNCIO_ENV, "pytest-asyncio"),
        Runner(
            f"pytest-asyncio, -n {n} --dist load",
            e.PYTEST_ASYNCIO_ENV,
            "pytest-asyncio",
            (*workers, "--dist", "load"),
        ),
        Runner(
            f"pytest-asyncio, -n {n} --dist loadgroup",
            e.PYTEST_ASYNCIO_ENV,
            "xdist-group",
            (*workers, "--dist", "loadgroup"),
        ),
        Runner("asyncio-concurrent", e.CONCURRENT_ENV, "concurrent"),
        Runner(f"asyncio-concurrent, -n {n}", e.CONCURRENT_ENV, "concurrent", workers),
        Runner("asyncio-concurrent on pytest 9.0.3", CONCURRENT_ON_9_0, "concurrent"),
        Runner("asyncio-cooperative", e.COOPERATIVE_ENV, "cooperative"),
        Runner(f"asyncio-cooperative, -n {n}", e.COOPERATIVE_ENV, "cooperative", workers),
        Runner(
            "asyncgroup, -n 0", e.ASYNCGROUP_ENV, "asyncgroup", ("-n", "0", "--dist=asyncgroup")
        ),
        Runner(OURS.format(n=n), e.ASYNCGROUP_ENV, "asyncgroup", (*workers, "--dist=asyncgroup")),
        # Opt-in rows (Scenario.extra): what explains a difference, not runners of their own.
        Runner(
            CAP_100,
            e.ASYNCGROUP_ENV,
            "asyncgroup",
            ("-n", "0", "--dist=asyncgroup", "--asyncgroup-concurrency=100"),
        ),
        Runner(
            STARTUP.format(n=n),
            e.ASYNCGROUP_ENV,
            "asyncgroup",
            (*workers, "--dist=asyncgroup", *NOTHING),
            runs_tests=False,
        ),
    ]
    return {runner.name: runner for runner in table}


SEQUENTIAL = ("pytest-asyncio (sequential)", "pytest-asyncio, -n {n} --dist load")
PAIRS = {
    "ours": OURS,
    "one": "asyncgroup, -n 0",
    "cap100": CAP_100,
    "load": SEQUENTIAL[1],
    "sequential": SEQUENTIAL[0],
    "cooperative": "asyncio-cooperative",
}
"""Short names for ``--pair``: ours at -n N, in one process, at cap 100; the others."""
LOADGROUP = "pytest-asyncio, -n {n} --dist loadgroup"
UNDER_XDIST = ("asyncio-concurrent, -n {n}", "asyncio-cooperative, -n {n}")

CAP_CAVEAT = (
    "pytest-asyncgroup runs at most 64 tests at once per worker by default,"
    " pytest-asyncio-cooperative 100: the 'cap 100' row is ours in one process with"
    " `--asyncgroup-concurrency=100`, the same cap."
)
STARTUP_CAVEAT = (
    "The 'start-up only' row is ours at -n 2 with every test deselected: interpreter, plugins,"
    " two xdist workers that each collect the suite. No -n 2 runner can finish sooner."
)

COMMON_CAVEATS = [
    "`--dist load` declares nothing: each worker runs one test at a time, so keys never"
    " conflict within a worker, but two workers may hold the same key at once (they would"
    " share one real resource; here each worker has its own).",
    "`--dist loadgroup` on pytest 9.2 does not keep an `xdist_group` on one worker"
    " (pytest-xdist #1386: it rewrote `item._nodeid`, which pytest 9.2 ignores); it is"
    " measured as it behaves.",
    "pytest-asyncio-concurrent 0.5.2 errors on every test that uses a fixture under pytest"
    " >= 9.1 ('The fixture value for ... is not available during teardown'), so it is also"
    " run on pytest 9.0.3 (its own environment) to show what it does when it works. Its"
    " groups run one after another and cannot span modules: the dialect puts every test of"
    " a module in one group, and an exclusive test in a group of its own.",
    "pytest-asyncio-concurrent and pytest-asyncio-cooperative do not work under xdist"
    " (`-n 2` rows): recorded as they fail.",
    "pytest-asyncio-cooperative can only say 'run concurrently' (and offers a mutex):"
    " exclusive keys take a readers-writer lock fixture written in the suite itself.",
]


@dataclass(frozen=True)
class Scenario:
    """A page of results: one or more suite sizes, the runners, and how far to go."""

    name: str
    title: str
    about: str
    variants: tuple[Suite, ...]
    skipped: dict[str, str] = field(default_factory=dict)  # runner name -> reason
    extra: tuple[str, ...] = ()  # opt-in runners of EXTRA shown on this page
    once: tuple[str, ...] = ()  # slow runners, no subject of a target: the first round only
    estimated: tuple[str, ...] = ()  # runners timed on ``subset`` and scaled up
    subset: Suite | None = None
    max_rounds: int | None = None
    caveats: tuple[str, ...] = ()
    targets: Callable[[ScenarioResult, int], list[tuple[str, bool | None, str]]] | None = None


def _ratio_target(
    variant: int, runner: str, least: float, text: str
) -> Callable[[ScenarioResult, int], list[tuple[str, bool | None, str]]]:
    def check(result: ScenarioResult, n: int) -> list[tuple[str, bool | None, str]]:
        found = result.variants[variant]
        row = found.row(runner.format(n=n))
        ratio = found.ratio(row) if row else None
        if ratio is None or row is None:
            return [(text, None, "runner not measured")]
        estimated = " (estimated)" if row.estimated else ""
        detail = f"it takes {ratio:.2f}x as long as ours{estimated}; its outcome: {row.status}"
        return [(text, ratio >= least, detail)]

    return check


def _at_most_target(
    variant: int, mine: str, theirs: str, most: float, text: str
) -> Callable[[ScenarioResult, int], list[tuple[str, bool | None, str]]]:
    """Runner ``mine`` takes at most ``most`` times as long as ``theirs``."""

    def check(result: ScenarioResult, n: int) -> list[tuple[str, bool | None, str]]:
        found = result.variants[variant]
        row, other = found.row(mine.format(n=n)), found.row(theirs.format(n=n))
        if row is None or other is None or row.median is None or other.median is None:
            return [(text, None, "not measured")]
        ratio = row.median / other.median
        return [(text, ratio <= most, f"{ratio:.2f}x as long")]

    return check


def _cpu_target(result: ScenarioResult, n: int) -> list[tuple[str, bool | None, str]]:
    """Issue 22, target 2: CPU per test at -n N at most 1.3x that of one process."""
    text = f"ours at -n {n}: CPU (all processes) at most 1.3x that of one process"
    found = result.variants[0]
    many, one = found.row(OURS.format(n=n)), found.row("asyncgroup, -n 0")
    if many is None or one is None or many.cpu is None or one.cpu is None:
        return [(text, None, "not measured")]
    ratio = many.cpu / one.cpu
    return [(text, ratio <= 1.3, f"{many.cpu:.2f} s against {one.cpu:.2f} s: {ratio:.2f}x")]


def _targets(
    *checks: Callable[[ScenarioResult, int], list[tuple[str, bool | None, str]]],
) -> Callable[[ScenarioResult, int], list[tuple[str, bool | None, str]]]:
    return lambda result, n: [target for check in checks for target in check(result, n)]


# Issue 22's targets (the earlier xdist issue's were withdrawn).
CAP_100_TARGET = _at_most_target(
    0, CAP_100, "asyncio-cooperative", 0.9, "ours in one process at cap 100: <= 0.9x cooperative"
)


def _scale_targets(result: ScenarioResult, n: int) -> list[tuple[str, bool | None, str]]:
    small, large = result.variants
    found: list[tuple[str, bool | None, str]] = []
    for label, name in (("-n 0", "asyncgroup, -n 0"), (f"-n {n}", OURS.format(n=n))):
        before, after = small.row(name), large.row(name)
        if before is None or after is None or before.median is None or after.median is None:
            continue
        per_test = (before.median / small.suite.tests, after.median / large.suite.tests)
        change = per_test[1] / per_test[0]
        found.append(
            (
                f"ours {label}: time per test flat within 20% from 5,000 to 20,000 tests",
                abs(change - 1) <= 0.20,
                f"{per_test[0] * 1000:.2f} -> {per_test[1] * 1000:.2f} ms per test, x{change:.2f}",
            )
        )
        peaks = [kb for outcome in after.outcomes for kb in outcome.peak_rss_kb.values()]
        found.append(
            (
                f"ours {label}: peak RSS per process <= 500 MB at 20,000 tests",
                max(peaks) <= 500 * 1024 if peaks else None,
                f"largest process {max(peaks) / 1024:.0f} MB" if peaks else "not recorded",
            )
        )
    return found


def scenarios(quick: bool) -> dict[str, Scenario]:
    """The five scenarios; ``quick`` shrinks every suite to a smoke test."""
    io = IOSuite() if not quick else IOSuite(keys=2, tests_per_key=5, free_tests=5)
    io_5000 = IOSuite(keys=100, free_tests=1000, modules=10)
    io_20000 = IOSuite(keys=400, free_tests=4000, modules=40)
    subset = IOSuite(keys=10, free_tests=100, modules=1)  # 500 tests: a tenth of io-5000
    sync = SyncSuite(5000)
    service = ServiceSuite()
    if quick:
        io_5000 = IOSuite(keys=4, tests_per_key=5, free_tests=10, modules=2)
        io_20000 = IOSuite(keys=16, tests_per_key=5, free_tests=40, modules=8)
        subset = IOSuite(keys=2, tests_per_key=5, free_tests=5, modules=1)
        sync = SyncSuite(200)
        service = ServiceSuite(keys=("orders", "users"), shared_per_key=4, exclusive_per_key=1)
    slow = (*SEQUENTIAL, LOADGROUP)
    minutes = io_20000.tests * 0.12 / 2 / 60  # 0.12 s a test, two workers at best
    not_at_scale = f"one test at a time: {minutes:.0f} min or more at 20,000 tests"
    return {
        "io": Scenario(
            "io",
            "Scenario 1: the I/O-bound suite of the xdist issue",
            "400 async tests that wait on I/O: where concurrency pays.",
            (io,),
            extra=EXTRA,
            caveats=(CAP_CAVEAT, STARTUP_CAVEAT, *COMMON_CAVEATS),
            targets=_targets(
                _ratio_target(0, SEQUENTIAL[1], 20, "at -n 2: >= 20x faster than --dist load"),
                _ratio_target(
                    0, "asyncio-cooperative", 1.5, "at -n 2: >= 1.5x faster than cooperative"
                ),
                CAP_100_TARGET,
            ),
        ),
        "io-5000": Scenario(
            "io-5000",
            "Scenario 2: the I/O-bound suite at 5,000 tests",
            "The scenario 1 suite replicated 12.5 times (100 keys x 40 tests + 1,000 with"
            " no key, in 10 modules).",
            (io_5000,),
            extra=(CAP_100,),
            estimated=slow,
            subset=subset,
            skipped=dict.fromkeys(UNDER_XDIST, "crashes under xdist: see scenario 1"),
            once=("asyncio-concurrent on pytest 9.0.3",),
            caveats=(
                "The three one-test-at-a-time runners would take 5 to 10 minutes per run;"
                " they ran once on a 500-test subset of the same shape (10 keys x 40 + 100)"
                " and are estimated as start-up(5,000) + (time(500) - start-up(500)) x 10,"
                " start-up being the same command with every test deselected.",
                CAP_CAVEAT,
                *COMMON_CAVEATS,
            ),
            targets=_targets(
                CAP_100_TARGET,
                _ratio_target(
                    0, "asyncio-cooperative", 1.5, "at -n 2: >= 1.5x faster than cooperative"
                ),
                _cpu_target,
            ),
        ),
        "sync": Scenario(
            "sync",
            "Scenario 3: 5,000 trivial sync tests",
            "Nothing to overlap: what a suite that gains nothing pays for the mode.",
            (sync,),
            caveats=("Every runner runs the same plain `def` tests: no dialect differs here.",),
            targets=_targets(
                _at_most_target(0, OURS, SEQUENTIAL[1], 1.05, "ours <= 1.05x `--dist load`"),
                _at_most_target(
                    0,
                    "asyncgroup, -n 0",
                    SEQUENTIAL[0],
                    1.0,
                    "ours in one process <= 1.0x pytest-asyncio",
                ),
            ),
        ),
        "service": Scenario(
            "service",
            "Scenario 4: a system test against a local HTTP service",
            "A session fixture starts an asyncio HTTP service (its own process, 127.0.0.1,"
            " 25 ms per request); tests are its clients, take keys shared or exclusive, and"
            " the service answers 409 to a holder that breaks the rules, failing the test.",
            (service,),
            extra=(CAP_100,),
            caveats=(CAP_CAVEAT, *COMMON_CAVEATS),
        ),
        "scale": Scenario(
            "scale",
            "Scenario 5: scale, 5,000 and 20,000 tests",
            "The I/O suite at 5,000 and 20,000 tests (40 tests per key, 500 tests per"
            " module): time per test and peak memory per process.",
            (io_5000, io_20000),
            skipped={
                **dict.fromkeys(slow, not_at_scale),
                "asyncio-concurrent": "errors on every fixture-using test: see scenario 2",
                **dict.fromkeys(UNDER_XDIST, "crashes under xdist: see scenario 1"),
                "asyncio-concurrent on pytest 9.0.3": "sets up fixtures one at a time:"
                " 400 s of setup alone at 20,000 tests",
            },
            max_rounds=1,
            caveats=("One round per size: the budget of a full run.",),
            targets=_scale_targets,
        ),
    }


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")


def _prepare(suite: Suite, runner: Runner, directory: Path) -> Path:
    suites.write(suites.render(suite, runner.dialect), directory)
    return directory


def _estimate(
    runner: Runner, full: Path, suite: Suite, subset: Suite, part: Path, timeout: float
) -> tuple[runs.Outcome, str]:
    """Time ``runner`` on ``subset`` and scale to ``suite`` (see the io-5000 caveat)."""
    start_full = runs.run(runner, full, timeout, NOTHING).wall
    start_part = runs.run(runner, part, timeout, NOTHING).wall
    measured = runs.run(runner, part, timeout)
    factor = suite.tests / subset.tests
    estimate = start_full + (measured.wall - start_part) * factor
    note = (
        f"estimated from {subset.tests} tests in {measured.wall:.1f} s, start-up"
        f" {start_part:.1f} s ({suite.tests} tests: {start_full:.1f} s), x{factor:g}"
    )
    measured.wall = estimate
    return measured, note


def run_scenario(
    scenario: Scenario, n: int, rounds: int, timeout: float, work: Path
) -> ScenarioResult:
    catalogue = all_runners(n)
    skipped = {name.format(n=n): why for name, why in scenario.skipped.items()}
    estimated = {name.format(n=n) for name in scenario.estimated}
    left_out = {name.format(n=n) for name in EXTRA} - {name.format(n=n) for name in scenario.extra}
    rounds = min(rounds, scenario.max_rounds or rounds)
    load_before = os.getloadavg()[0]
    started = datetime.now(timezone.utc)
    variants: list[VariantResult] = []
    for suite in scenario.variants:
        label = f"{suite.tests:,} tests"
        rows = [
            Row(
                runner,
                suite.tests if runner.runs_tests else 0,
                ours=name == OURS.format(n=n),
                skipped=skipped.get(name),
            )
            for name, runner in catalogue.items()
            if name not in left_out
        ]
        variants.append(VariantResult(label, suite, rows))
    for variant in variants:
        for row in variant.rows:
            if not row.skipped:
                environments.ensure(row.runner.env)
    base = work / "suites" / scenario.name
    for variant in variants:  # each suite written once, every cache filled (``runs.warm``)
        for row in variant.rows:
            if not row.skipped and row.runner.name not in estimated:
                directory = _prepare(variant.suite, row.runner, _directory(base, variant, row))
                runs.warm(row.runner, directory, timeout)
    for round_number in range(rounds):
        for variant in variants:
            live = [row for row in variant.rows if not row.skipped]
            shift = round_number % len(live)
            for row in live[shift:] + live[:shift]:
                _run_row(row, variant, scenario, base, timeout, round_number, estimated, n)
    return ScenarioResult(
        name=scenario.name,
        title=scenario.title,
        about=scenario.about,
        caveats=list(scenario.caveats),
        variants=variants,
        command="python benchmarks/compare.py " + shlex.join(sys.argv[1:]),
        rounds=rounds,
        started=started,
        load=(load_before, os.getloadavg()[0]),
        commit=environments.repository_commit(),
    )


def rebuild(scenario: Scenario, raw: dict[str, Any], n: int) -> ScenarioResult:
    """A scenario's result from its recorded JSON: to re-render a page without running again."""
    catalogue = all_runners(n)
    variants = []
    for suite, recorded in zip(scenario.variants, raw["variants"], strict=True):
        if suite.tests != recorded["tests"]:
            raise SystemExit(f"{scenario.name}: the recorded suite is not this scenario's")
        rows = report.rows_from_raw(recorded["rows"], catalogue)
        variants.append(VariantResult(recorded["label"], suite, rows))
    return ScenarioResult(
        name=scenario.name,
        title=scenario.title,
        about=scenario.about,
        caveats=list(scenario.caveats),
        variants=variants,
        command=raw["command"],
        rounds=raw["rounds"],
        started=datetime.fromisoformat(raw["started"]),
        load=tuple(raw["load"]),
        commit=raw["commit"],
    )


def _directory(base: Path, variant: VariantResult, row: Row) -> Path:
    return base / _slug(variant.label) / _slug(row.runner.name)


def _run_row(
    row: Row,
    variant: VariantResult,
    scenario: Scenario,
    base: Path,
    timeout: float,
    round_number: int,
    estimated: set[str],
    n: int,
) -> None:
    name = row.runner.name
    directory = _directory(base, variant, row)
    if row.runner.name in estimated and scenario.subset is not None:
        if round_number == 0:
            full = _prepare(variant.suite, row.runner, directory)
            part = _prepare(scenario.subset, row.runner, base / "subset" / _slug(name))
            print(f"  [{scenario.name}] {name}: estimating from a subset ...", flush=True)
            outcome, note = _estimate(
                row.runner, full, variant.suite, scenario.subset, part, timeout
            )
            row.outcomes.append(outcome)
            row.estimated = note
            row.expected = scenario.subset.tests
        return
    if row.outcomes and row.outcomes[-1].crashed:
        if round_number == 1:
            row.notes.append("not repeated after it crashed or timed out")
        return
    if round_number > 0 and name in {once.format(n=n) for once in scenario.once}:
        if round_number == 1:
            row.notes.append("one round only (slow)")
        return
    print(f"  [{scenario.name} r{round_number + 1}] {variant.label}: {name} ...", flush=True)
    outcome = runs.run(row.runner, directory, timeout)
    row.outcomes.append(outcome)
    print(f"    {outcome.wall:.2f} s, exit {outcome.exit_code}, {outcome.counts}", flush=True)


def run_pairs(
    scenario: Scenario,
    n: int,
    pairs: int,
    timeout: float,
    work: Path,
    pair: tuple[str, str] = ("ours", "load"),
) -> float:
    """Two runners (:data:`PAIRS` names; ours at -n N and ``--dist load`` unless
    told) on the scenario's first suite, alternately, ``pairs`` times (the first of
    each pair alternates too); return the median per-pair ratio, first over second."""
    catalogue = all_runners(n)
    first, second = (catalogue[PAIRS[name].format(n=n)] for name in pair)
    suite = scenario.variants[0]
    directories = {}
    for runner in (first, second):
        environments.ensure(runner.env)
        directory = work / "pairs" / scenario.name / _slug(runner.name)
        directories[runner.name] = _prepare(suite, runner, directory)
        runs.warm(runner, directory, timeout)
    ratios, cpu_ratios = [], []
    for number in range(pairs):
        walls, cpus = {}, {}
        for runner in (first, second) if number % 2 == 0 else (second, first):
            outcome = runs.run(runner, directories[runner.name], timeout)
            walls[runner.name], cpus[runner.name] = outcome.wall, outcome.cpu or 0.0
        ratios.append(walls[first.name] / walls[second.name])
        cpu_ratios.append(cpus[first.name] / cpus[second.name] if cpus[second.name] else 0.0)
        print(
            f"  pair {number + 1}: {first.name} {walls[first.name]:.2f} s"
            f" ({cpus[first.name]:.2f} s CPU), {second.name} {walls[second.name]:.2f} s"
            f" ({cpus[second.name]:.2f} s CPU): {ratios[-1]:.2f}x",
            flush=True,
        )
    median = statistics.median(ratios)
    print(
        f"{scenario.name}: {first.name} takes {median:.2f}x as long as {second.name} (median"
        f" of {pairs} pairs, {min(ratios):.2f}x to {max(ratios):.2f}x), and"
        f" {statistics.median(cpu_ratios):.2f}x its CPU"
    )
    return median


def publish(result: ScenarioResult, scenario: Scenario, n: int, out: Path) -> None:
    """Write the markdown, the raw JSON and the chart of ``result`` under ``out``."""
    if scenario.targets is not None:
        result.targets = scenario.targets(result, n)
    out.mkdir(parents=True, exist_ok=True)
    page = report.markdown(result, per_test=scenario.name == "scale")
    (out / f"{result.name}.md").write_text(page)
    (out / f"{result.name}.json").write_text(json.dumps(report.raw_data(result), indent=1))
    chart = WORK / f"{result.name}.chart.json"
    chart.write_text(json.dumps(report.chart_data(result)))
    plot = environments.ensure(environments.PLOT_ENV)
    subprocess.run(
        [plot.python, BENCHMARKS / "comparison" / "chart.py", chart, out / f"{result.name}.png"],
        check=True,
    )
    print(f"wrote {out / result.name}.md and .png")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--scenario", action="append", help="io, io-5000, sync, service, scale, all"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="N of -n N (default 2)")
    parser.add_argument("--timeout", type=float, default=600, help="per run, in seconds")
    parser.add_argument("--quick", action="store_true", help="tiny suites, 1 round")
    parser.add_argument(
        "--render", action="store_true", help="re-render pages and charts from recorded JSON"
    )
    parser.add_argument("--out", type=Path, help="default: benchmarks/results (quick: .work)")
    parser.add_argument(
        "--pairs", type=int, metavar="N", help="print N interleaved pairs: ours, --dist load"
    )
    parser.add_argument(
        "--pair",
        default="ours,load",
        metavar="A,B",
        help=f"the two runners of --pairs (default ours,load), of: {', '.join(PAIRS)}",
    )
    options = parser.parse_args()
    pair = tuple(options.pair.split(","))
    if len(pair) != 2 or any(name not in PAIRS for name in pair):
        parser.error(f"--pair: two of {', '.join(PAIRS)}, as A,B; got {options.pair!r}")
    table = scenarios(options.quick)
    chosen = options.scenario or ["all"]
    names = list(table) if "all" in chosen else chosen
    unknown = [name for name in names if name not in table]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; choose from {list(table)} or all")
    rounds = 1 if options.quick else options.rounds
    out = options.out or (WORK / "quick-results" if options.quick else RESULTS)
    for name in names:
        print(f"== {name}", flush=True)
        if options.pairs:
            run_pairs(table[name], options.workers, options.pairs, options.timeout, WORK, pair)
            continue
        if options.render:
            raw = json.loads((out / f"{name}.json").read_text())
            publish(rebuild(table[name], raw, options.workers), table[name], options.workers, out)
            continue
        result = run_scenario(table[name], options.workers, rounds, options.timeout, WORK)
        if options.quick:
            result.about += " **Quick smoke run: tiny suites, not the sizes described.**"
        publish(result, table[name], options.workers, out)


if __name__ == "__main__":
    main()
