"""Where a test's CPU goes: py-spy samples of one run, by the code they were in.

Runs scenario 2 (``compare.py``'s ``io-5000``: 5,000 I/O tests) under py-spy,
writes a flame graph (SVG) and the collapsed stacks under ``benchmarks/.work/profile``,
and prints a table: each sample counted once, for the innermost frame that
belongs to one of the parts below (so time in the standard library is charged
to whoever called it), as a share of all samples.

    python benchmarks/cpu_profile.py                 # one process, --asyncgroup-concurrency=100
    python benchmarks/cpu_profile.py -- -n 2         # the controller (workers: --subprocesses)
    python benchmarks/cpu_profile.py --subprocesses -- -n 2

Needs ``py-spy`` (``pip install py-spy``) and ptrace rights (root, or
``kernel.yama.ptrace_scope=0``).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
from pathlib import Path

from comparison.suites import IOSuite, render, write

BENCHMARKS = Path(__file__).resolve().parent
WORK = BENCHMARKS / ".work" / "profile"

PARTS = (
    ("pytest-asyncgroup: engine", "pytest_asyncgroup/_engine/"),
    ("pytest-asyncgroup: session, summary", "pytest_asyncgroup/_session/"),
    ("pytest-asyncgroup: xdist", "pytest_asyncgroup/_xdist/"),
    ("pytest-asyncgroup: other", "pytest_asyncgroup/"),
    ("xdist", "xdist/"),
    ("execnet", "execnet/"),
    ("pytest-asyncio", "pytest_asyncio/"),
    ("pytest: terminal", "_pytest/terminal.py"),
    ("pytest: reports", "_pytest/reports.py"),
    ("pytest: fixtures", "_pytest/fixtures.py"),
    ("pytest: runner", "_pytest/runner.py"),
    ("pytest: capture, logging", "_pytest/capture.py"),
    ("pytest: capture, logging", "_pytest/logging.py"),
    ("pytest: collection", "_pytest/python.py"),
    ("pytest: other", "_pytest/"),
    ("pluggy (hook calls)", "pluggy/"),
    ("the tests' own code", "test_io_"),
    ("asyncio", "asyncio/"),
)


def part_of(stack: str) -> str:
    """The part that the innermost frame of one of ours belongs to."""
    frames = stack.split(";")
    for frame in reversed(frames):
        for name, marker in PARTS:
            if marker in frame:
                return name
    return "other (interpreter, imports, stdlib at top level)"


def table(collapsed: Path) -> list[tuple[str, int]]:
    counts: collections.Counter[str] = collections.Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if samples.isdigit():
            counts[part_of(stack)] += int(samples)
    return counts.most_common()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subprocesses", action="store_true", help="sample xdist's workers too")
    parser.add_argument("--rate", type=int, default=200, help="samples a second (py-spy)")
    parser.add_argument("extra", nargs="*", help="pytest arguments (after --)")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    suite = WORK / "io5000"
    write(render(IOSuite(keys=100, free_tests=1000, modules=10), "asyncgroup"), suite)
    label = "n2" if "-n" in args.extra else "one"
    label += "-all" if args.subprocesses else ""
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    pytest += ["--dist=asyncgroup", "--asyncgroup-concurrency=100", *args.extra]
    spy = [py_spy, "record", "--rate", str(args.rate)]
    spy += ["--subprocesses"] if args.subprocesses else []
    for fmt, path in (("raw", WORK / f"{label}.txt"), ("flamegraph", WORK / f"{label}.svg")):
        command = [*spy, "--format", fmt, "-o", str(path), "--", *pytest]
        subprocess.run(command, cwd=suite, check=True, capture_output=True)
    rows = table(WORK / f"{label}.txt")
    total = sum(samples for _, samples in rows)
    print(f"{label}: {total} samples at {args.rate}/s; flame graph {WORK / f'{label}.svg'}")
    print("| part | share of samples |\n| --- | --- |")
    for name, samples in rows:
        print(f"| {name} | {samples / total:.1%} |")


if __name__ == "__main__":
    main()
