"""pytest-asyncgroup at two commits, on the same suite, alternately: what a change costs.

``compare.py`` sets our plugin beside other runners; this answers the narrower
question a change raises ("is it within noise?"). The suite is one of
``compare.py``'s (``io``: scenario 1, ``sync``: scenario 3, ``service``: scenario 4,
``io-5000``: scenario 2), written once in the
asyncgroup dialect; the earlier commit is checked out in a git worktree and put
first on ``PYTHONPATH``, so both runs use this checkout's venv and dependencies
and differ only in the plugin's source. Runs alternate (before, after, before,
...) and the result is the median of the per-pair ratios after/before, with the
spread, as in ``compare.py --pairs``: of wall time, and of CPU time (user + system
of every process of the run, xdist workers included).

    python benchmarks/ab.py --before HEAD~3 --scenario io --pairs 8
    python benchmarks/ab.py --before main --scenario sync --pairs 12 -- -n 2

``--after-args`` adds pytest arguments to the later runs only: what an option
costs, at one commit (``--before HEAD`` with a clean working tree):

    python benchmarks/ab.py --before HEAD --after-args=--asyncgroup-doctor --pairs 8
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from comparison.service_suite import ServiceSuite
from comparison.suites import IOSuite, Suite, SyncSuite, render, write

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
WORK = BENCHMARKS / ".work" / "ab"
SUITES: dict[str, Suite] = {
    "io": IOSuite(),
    "io-5000": IOSuite(keys=100, free_tests=1000, modules=10),
    "sync": SyncSuite(),
    "service": ServiceSuite(),
}


def worktree(revision: str) -> Path:
    """A checkout of ``revision`` under ``WORK`` (made again each run)."""
    sha = subprocess.run(
        ["git", "rev-parse", revision], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.strip()
    path = WORK / f"src-{sha[:12]}"
    if not path.exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), sha],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
    return path


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(suite_dir: Path, source: Path | None, extra: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # pytest's rewrite cache, as compare.py
    if source is not None:
        env["PYTHONPATH"] = str(source / "src")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "no:randomly", "--dist=asyncgroup", *extra]
    start, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(command, cwd=suite_dir, env=env, capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"run failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr}")
    return seconds, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the earlier revision (git)")
    parser.add_argument("--scenario", choices=sorted(SUITES), default="io")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument(
        "--after-args", default="", help="pytest arguments for the later runs only (quoted)"
    )
    parser.add_argument("extra", nargs="*", help="pytest arguments for both runs (after --)")
    args = parser.parse_args()
    before = worktree(args.before)
    suite_dir = WORK / f"suite-{args.scenario}"
    write(render(SUITES[args.scenario], "asyncgroup"), suite_dir)
    after_extra = [*args.extra, *shlex.split(args.after_args)]
    timed_run(suite_dir, before, args.extra)  # warm the file cache; not counted
    timed_run(suite_dir, None, after_extra)
    befores, afters = [], []
    for _ in range(args.pairs):
        befores.append(timed_run(suite_dir, before, args.extra))
        afters.append(timed_run(suite_dir, None, after_extra))
    print(f"scenario {args.scenario}, {args.pairs} pairs, pytest args {args.extra or '(none)'}")
    after_label = f"working tree{', ' + args.after_args if args.after_args else ''}"
    for what, index in (("wall", 0), ("CPU", 1)):
        old = [run[index] for run in befores]
        new = [run[index] for run in afters]
        ratios = [b / a for a, b in zip(old, new, strict=True)]
        print(
            f"{what}: before ({args.before}) median {statistics.median(old):.3f}s,"
            f" after ({after_label}) median {statistics.median(new):.3f}s;"
            f" after/before median {statistics.median(ratios):.3f}"
            f" (min {min(ratios):.3f}, max {max(ratios):.3f})"
        )


if __name__ == "__main__":
    main()
