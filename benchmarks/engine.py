"""Benchmark of the engine alone (one process): issue #2's target suite.

200 tests, each with a function-scoped async fixture awaiting 0.1 s and a body
awaiting 0.1 s. Runs the suite with ``--dist=asyncgroup`` and sequentially with
pytest-asyncio, alternating, and reports the *test phase* (``pytest_runtestloop``,
i.e. beyond start-up and collection) of each, and their ratio.

    python benchmarks/engine.py [--tests 200] [--rounds 3] [--skip-sequential]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

SUITE = """
import asyncio
import pytest

@pytest.fixture
async def resource():
    await asyncio.sleep(0.1)
    yield

@pytest.mark.parametrize("i", range({tests}))
async def test_io(resource, i):
    await asyncio.sleep(0.1)
"""

TIMER = """
import json, os, time
import pytest

@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session):
    start = time.perf_counter()
    try:
        return (yield)
    finally:
        with open(os.environ["BENCH_OUT"], "w") as fh:
            json.dump({"test_phase": time.perf_counter() - start}, fh)
"""

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

RUNNERS = {
    "asyncgroup (one process)": ["--dist=asyncgroup"],
    "pytest-asyncio (sequential)": ["-p", "asyncio"],
}


def run(directory: Path, args: list[str]) -> float:
    out = directory / "timing.json"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=directory,
        env={**os.environ, "BENCH_OUT": str(out)},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{args} failed:\n{completed.stdout[-2000:]}{completed.stderr[-2000:]}")
    return float(json.loads(out.read_text())["test_phase"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-sequential", action="store_true")
    options = parser.parse_args()
    runners = dict(RUNNERS)
    if options.skip_sequential:
        del runners["pytest-asyncio (sequential)"]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "test_suite.py").write_text(textwrap.dedent(SUITE.format(tests=options.tests)))
        (directory / "conftest.py").write_text(TIMER)
        (directory / "pytest.ini").write_text(INI)
        times: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(options.rounds):  # alternate runners within each round
            for name, args in runners.items():
                times[name].append(run(directory, args))
    ours = statistics.median(times["asyncgroup (one process)"])
    print(
        f"{options.tests} tests, 0.1 s async fixture + 0.1 s body;"
        f" test phase, {options.rounds} rounds"
    )
    print(f"{'runner':32} {'median':>8} {'min':>8} {'max':>8} {'ratio':>8}")
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"{name:32} {median:8.2f} {min(values):8.2f} {max(values):8.2f} {median / ours:7.1f}x"
        )


if __name__ == "__main__":
    main()
