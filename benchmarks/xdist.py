"""Benchmark of ``-n 2 --dist=asyncgroup`` against ``-n 2 --dist load`` (issue #3's targets).

Two suites, each run by every runner in alternating rounds, wall time of the
whole ``pytest`` command (start-up, collection, workers, tests):

- ``io``: 400 tests, 8 keys x 40 tests + 80 tests with no key; each test has a
  20 ms async fixture setup, two 50 ms awaits and 1 ms of CPU.
- ``sync``: 5,000 trivial sync tests (the tax on suites that gain nothing).

For ``io`` the baseline "start-up + collection" is ``-n 2`` with every test
deselected: xdist starts both workers, they collect, nothing runs. "Beyond
start-up" is a runner's median minus the baseline's: the time spent on tests.

    python benchmarks/xdist.py [--rounds 3] [--suite io --suite sync]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IO_SUITE = """
import asyncio, time
import pytest

@pytest.fixture
async def connection():
    await asyncio.sleep(0.02)
    yield

def burn(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

async def body():
    await asyncio.sleep(0.05)
    burn(0.001)
    await asyncio.sleep(0.05)

@pytest.mark.parametrize("i", range(80))
async def test_free(connection, i):
    await body()
"""

KEYED_TEST = """
@pytest.mark.resource("key{k}")
@pytest.mark.parametrize("i", range(40))
async def test_key{k}(connection, i):
    await body()
"""

SYNC_SUITE = """
import pytest

@pytest.mark.parametrize("i", range(5000))
def test_trivial(i):
    pass
"""

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
markers = resource: for runs without pytest-asyncgroup
"""

OURS = "asyncgroup -n 2"
BASELINE = "start-up + collection (-n 2, nothing run)"
RUNNERS: dict[str, dict[str, list[str]]] = {
    "io": {
        "asyncgroup -n 2": ["-n", "2", "--dist=asyncgroup"],
        "asyncgroup -n 2, cap 256": [
            "-n",
            "2",
            "--dist=asyncgroup",
            "--asyncgroup-concurrency=256",
        ],
        "pytest-asyncio -n 2 --dist load": ["-p", "no:asyncgroup", "-n", "2", "--dist", "load"],
        BASELINE: [
            "-p",
            "no:asyncgroup",
            "-n",
            "2",
            "-k",
            "nothing_matches_this",
        ],
    },
    "sync": {
        "asyncgroup -n 2": ["-n", "2", "--dist=asyncgroup"],
        "-n 2 --dist load": ["-p", "no:asyncgroup", "-n", "2", "--dist", "load"],
    },
}


def make_suite(kind: str, directory: Path) -> None:
    (directory / "pytest.ini").write_text(INI)
    if kind == "io":
        keyed = "".join(KEYED_TEST.format(k=k) for k in range(8))
        (directory / "test_io.py").write_text(IO_SUITE + keyed)
    else:
        (directory / "test_sync.py").write_text(SYNC_SUITE)


def run(directory: Path, args: list[str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=directory,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if completed.returncode not in (0, 5):  # 5: everything deselected (the baseline)
        raise SystemExit(f"{args} failed:\n{completed.stdout[-3000:]}{completed.stderr[-2000:]}")
    return elapsed


def bench(kind: str, rounds: int) -> None:
    runners = RUNNERS[kind]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        make_suite(kind, directory)
        run(directory, ["--collect-only"])  # warm the filesystem and bytecode caches
        times: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(rounds):
            for name, args in runners.items():
                times[name].append(run(directory, args))
    ours = statistics.median(times[OURS])
    baseline = statistics.median(times[BASELINE]) if BASELINE in times else None
    print(f"\n## {kind} suite, {rounds} rounds, wall time of the whole pytest command")
    print("| runner | median (s) | min-max (s) | ratio to ours | beyond start-up (s) | ratio |")
    print("|---|---|---|---|---|---|")
    for name, samples in times.items():
        median = statistics.median(samples)
        row = f"| {name} | {median:.2f} | {min(samples):.2f}-{max(samples):.2f} "
        row += f"| {median / ours:.2f}x |"
        if baseline is not None and name != BASELINE:
            row += f" {median - baseline:.2f} | {(median - baseline) / (ours - baseline):.1f}x |"
        else:
            row += " | |"
        print(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--suite", action="append", choices=sorted(RUNNERS))
    options = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    for kind in options.suite or sorted(RUNNERS):
        bench(kind, options.rounds)


if __name__ == "__main__":
    main()
