"""A scenario's results: the markdown page and the data its chart is drawn from.

Each row is one runner on one suite size: the median of its rounds' wall times,
their range, its ratio to ours (``asyncgroup, -n N``: a ratio of 5x means that
runner took five times as long), what its tests reported, its peak memory, and
what went wrong if anything did. Runners that crashed or timed out keep their
time in the table, marked as such: the time is what a person waited for nothing.
"""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from comparison import environments
from comparison.runs import Outcome, Runner
from comparison.suites import Suite


@dataclass
class Row:
    """One runner on one suite: its rounds, or why it has none."""

    runner: Runner
    expected: int  # tests it should report
    outcomes: list[Outcome] = field(default_factory=list)
    ours: bool = False
    estimated: str | None = None  # how the time was estimated, when it was
    skipped: str | None = None  # why it was not run
    notes: list[str] = field(default_factory=list)

    @property
    def walls(self) -> list[float]:
        return [o.wall for o in self.outcomes]

    @property
    def median(self) -> float | None:
        return statistics.median(self.walls) if self.outcomes else None

    @property
    def cpu(self) -> float | None:
        """Median CPU seconds (all processes); None if not recorded or estimated."""
        found = [o.cpu for o in self.outcomes if o.cpu is not None]
        return statistics.median(found) if found and not self.estimated else None

    @property
    def status(self) -> str:
        if self.skipped:
            return "not run"
        if any(o.timed_out for o in self.outcomes):
            return "timed out"
        if crashed := [o for o in self.outcomes if o.crashed]:
            return f"crashed (exit {crashed[0].exit_code})"
        last = self.outcomes[-1]
        if not self.runner.runs_tests:
            return "ok" if last.exit_code == 5 else f"exit {last.exit_code}"
        if last.exit_code != 0 or last.counts.get("failed") or last.counts.get("errors"):
            return "failures"
        if last.counts.get("passed", 0) < self.expected:
            return "incomplete"
        return "ok"

    @property
    def error(self) -> str | None:
        return next((o.error for o in self.outcomes if o.error), None)


@dataclass
class VariantResult:
    """All runners on one suite size."""

    label: str
    suite: Suite
    rows: list[Row]

    @property
    def ours(self) -> Row:
        return next(row for row in self.rows if row.ours)

    def row(self, name: str) -> Row | None:
        return next((row for row in self.rows if row.runner.name == name), None)

    def ratio(self, row: Row) -> float | None:
        ours = self.ours.median
        return row.median / ours if row.median is not None and ours else None


@dataclass
class ScenarioResult:
    name: str
    title: str
    about: str
    caveats: list[str]
    variants: list[VariantResult]
    command: str
    rounds: int
    started: datetime
    load: tuple[float, float]  # 1-minute load average before and after
    commit: str  # of pytest-asyncgroup, as measured
    targets: list[tuple[str, bool | None, str]] = field(default_factory=list)


def _mb(kb: int) -> str:
    return f"{kb / 1024:.0f}"


def memory(row: Row) -> str:
    """Peak RSS: the largest xdist worker and the controller, or the one process."""
    peaks: dict[str, int] = {}
    for outcome in row.outcomes:
        for name, kb in outcome.peak_rss_kb.items():
            peaks[name] = max(peaks.get(name, 0), kb)
    workers = [kb for name, kb in peaks.items() if name != "main"]
    if workers:
        main = f", controller {_mb(peaks['main'])}" if "main" in peaks else ""
        return f"worker {_mb(max(workers))}{main}"
    return _mb(peaks["main"]) if "main" in peaks else "-"


def cpu_text(row: Row, tests: int) -> str:
    """Median CPU time of the run's processes, and that per test of the suite."""
    cpu = row.cpu
    if cpu is None:
        return "-"
    if not row.runner.runs_tests or not tests:
        return f"{cpu:.2f}"
    return f"{cpu:.2f}, {cpu / tests * 1000:.2f}"


def outcomes_text(row: Row) -> str:
    if row.skipped or not row.outcomes:
        return "-"
    if not row.runner.runs_tests:
        return "nothing run (start-up and collection only)"
    counts = row.outcomes[-1].counts
    text = ", ".join(f"{n} {word}" for word, n in counts.items()) or "no summary"
    if row.estimated:
        text += f" (the {row.expected}-test subset)"
    elif counts.get("passed") != row.expected:
        text += f" (of {row.expected})"
    return text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row_line(variant: VariantResult, row: Row, per_test: bool) -> str:
    if row.median is None:
        cells = [row.runner.name, *["-"] * (7 if per_test else 6), f"not run: {row.skipped}"]
        return "| " + " | ".join(_cell(c) for c in cells) + " |"
    mark = "≈" if row.estimated else ("≥" if row.status == "timed out" else "")
    ratio = variant.ratio(row)
    notes = list(row.notes)
    if row.estimated:
        notes.append(row.estimated)
    if row.error:
        notes.append(f"`{row.error}`")
    name = f"**{row.runner.name}** (ours)" if row.ours else row.runner.name
    cells = [
        name,
        f"{mark}{row.median:.2f}",
        f"{min(row.walls):.2f}-{max(row.walls):.2f}",
        f"{mark}{ratio:.2f}x" if ratio is not None else "-",
    ]
    if per_test:
        cells.append(f"{row.median / variant.suite.tests * 1000:.2f}")
    cells.append(cpu_text(row, variant.suite.tests))
    cells += [f"{row.status}: {outcomes_text(row)}", memory(row), "; ".join(notes)]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def table(variant: VariantResult, per_test: bool = False) -> list[str]:
    head = ["runner", "median (s)", "min-max (s)", "ratio to ours"]
    if per_test:
        head.append("per test (ms)")
    head += ["CPU (s), per test (ms)", "outcome", "peak RSS (MB)", "notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += [_row_line(variant, row, per_test) for row in variant.rows]
    return lines


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({model}), {memory_gib:.0f} GiB, {platform.system()}"


def versions_table(envs: list[environments.Environment]) -> list[str]:
    lines = ["| environment | Python | packages |", "|---|---|---|"]
    for env in envs:
        found = environments.versions(env)
        packages = ", ".join(
            f"{name} {found[name]}" for name in environments.REPORTED_PACKAGES if name in found
        )
        lines.append(f"| `{env.name}` | {environments.python_version(env)} | {packages} |")
    return lines


def markdown(result: ScenarioResult, per_test: bool = False) -> str:
    envs = list({row.runner.env: None for v in result.variants for row in v.rows})
    lines = [f"# {result.title}", "", result.about, ""]
    for variant in result.variants:
        lines += [f"## {variant.label}", "", variant.suite.describe() + ".", ""]
        lines += table(variant, per_test)
        lines.append("")
    if result.targets:
        lines += ["## Targets", ""]
        for text, met, detail in result.targets:
            verdict = {True: "**met**", False: "**missed**", None: "**not measured**"}[met]
            lines.append(f"- {verdict}: {text} ({detail})")
        lines.append("")
    if result.caveats:
        lines += ["## What to keep in mind", ""]
        lines += [f"- {caveat}" for caveat in result.caveats]
        lines.append("")
    lines += [
        "## How it was measured",
        "",
        f"![{result.title}]({result.name}.png)",
        "",
        f"Command: `{result.command}` ({result.rounds} round(s); each round runs every runner"
        " once, in an order rotated from round to round). Wall time of the whole pytest"
        " command; median, min and max over the rounds. CPU: user + system time of every"
        " process of the run (the pytest process and its xdist workers), from"
        " `getrusage(RUSAGE_CHILDREN)`, median over the rounds, and that divided by the"
        " suite's tests (start-up included); not given for estimated rows. Peak RSS from"
        " `getrusage(RUSAGE_SELF).ru_maxrss` at the end of each process's session.",
        "",
        f"Measured {result.started:%Y-%m-%d %H:%M} UTC on {machine()}; 1-minute load average"
        f" {result.load[0]:.2f} before, {result.load[1]:.2f} after. The machine was shared"
        " with other test runs, so times are noisy: compare ratios within a round-robin,"
        " not absolute seconds across pages.",
        "",
        "Each runner's command, run in the suite written in its dialect"
        " (`benchmarks/comparison/suites.py`):",
        "",
    ]
    for row in result.variants[0].rows:
        command = " ".join(["python -m pytest", *row.runner.command()[3:]])
        lines.append(f"- {row.runner.name}: `{command}` (environment `{row.runner.env.name}`)")
    lines += [
        "",
        f"pytest-asyncgroup was installed from commit `{result.commit[:12]}`"
        " (a snapshot of the repository, not the working tree).",
        "",
        *versions_table(envs),
        "",
    ]
    return "\n".join(lines)


def chart_data(result: ScenarioResult) -> dict[str, object]:
    variants = []
    for variant in result.variants:
        rows = [
            {
                "runner": row.runner.name,
                "median": row.median,
                "min": min(row.walls) if row.walls else None,
                "max": max(row.walls) if row.walls else None,
                "status": row.status,
                "ours": row.ours,
                "estimated": row.estimated is not None,
            }
            for row in variant.rows
        ]
        variants.append({"label": variant.label, "rows": rows})
    return {"title": result.title, "variants": variants}


def rows_from_raw(recorded: list[dict[str, Any]], runners: dict[str, Runner]) -> list[Row]:
    """The rows of one suite size, from what ``raw_data`` wrote (to re-render a page)."""
    return [
        Row(
            runners[entry["runner"]],
            entry["expected"],
            outcomes=[Outcome(**outcome) for outcome in entry["outcomes"]],
            ours=entry["ours"],
            estimated=entry["estimated"],
            skipped=entry["skipped"],
            notes=entry["notes"],
        )
        for entry in recorded
    ]


def raw_data(result: ScenarioResult) -> dict[str, object]:
    """Everything measured, for a later look (written beside the markdown)."""
    return {
        "scenario": result.name,
        "command": result.command,
        "started": result.started.isoformat(),
        "rounds": result.rounds,
        "load": list(result.load),
        "commit": result.commit,
        "variants": [
            {
                "label": v.label,
                "tests": v.suite.tests,
                "rows": [
                    {
                        "runner": row.runner.name,
                        "args": list(row.runner.args),
                        "status": row.status,
                        "ours": row.ours,
                        "expected": row.expected,
                        "estimated": row.estimated,
                        "skipped": row.skipped,
                        "notes": row.notes,
                        "outcomes": [o.to_json() for o in row.outcomes],
                    }
                    for row in v.rows
                ],
            }
            for v in result.variants
        ],
    }
