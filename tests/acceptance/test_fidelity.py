"""Differential tests: generated suites run plainly and under ``--dist=asyncgroup``.

Each seed makes a suite (``suitegen.py``: packages, conftest overrides, fixtures
of every scope, classes, parametrization, failures in every phase), runs it with
plain pytest (pytest-asyncio), in one process and at ``-n 2``, and compares what
every test and fixture saw and when each instance was set up and torn down.
``--fidelity-seeds N`` runs seeds 1..N instead of the fixed CI set (``nox -s
fidelity -- --seeds N``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from . import suitegen

CI_SEEDS = range(1, 13)

MODES = {
    "plain": [],
    "one-process": ["--dist=asyncgroup"],
    "n2": ["-n", "2", "--dist=asyncgroup"],
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "seed" in metafunc.fixturenames:
        count = metafunc.config.getoption("fidelity_seeds")
        metafunc.parametrize("seed", range(1, count + 1) if count else CI_SEEDS)


def _run(suite: Path, events: Path, args: list[str]) -> str:
    events.mkdir()
    env = {**os.environ, "FIDELITY_EVENTS": str(events)}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", *args],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_a_generated_suite_runs_as_in_plain_pytest(seed: int, tmp_path: Path) -> None:
    pytest.importorskip("pytest_asyncio", reason="the plain run needs pytest-asyncio")
    files = suitegen.generate(seed)
    suitegen.write(tmp_path / "suite", files)
    runs = {}
    for name, args in MODES.items():
        _run(tmp_path / "suite", tmp_path / name, args)
        runs[name] = suitegen.read_run(tmp_path / name)
    assert runs["plain"].outcomes, "the plain run reported nothing"
    problems = {
        name: suitegen.compare(runs["plain"], runs[name], one_process=name == "one-process")
        for name in ("one-process", "n2")
    }
    report = [f"{name}: {problem}" for name, found in problems.items() for problem in found]
    assert not report, "\n".join([*report, "", *suitegen.describe(files)])
