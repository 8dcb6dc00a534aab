"""pytest-asyncgroup at two commits, on the same suite, alternately: what a change costs.

``compare.py`` sets our plugin beside other runners; this answers the narrower
question a change raises ("is it within noise?"). The suite is one of
``compare.py``'s (``io``: scenario 1, ``sync``: scenario 3), written once in the
asyncgroup dialect; the earlier commit is checked out in a git worktree and put
first on ``PYTHONPATH``, so both runs use this checkout's venv and dependencies
and differ only in the plugin's source. Runs alternate (before, after, before,
...) and the result is the median of the per-pair ratios after/before, with the
spread, as in ``compare.py --pairs``.

    python benchmarks/ab.py --before HEAD~3 --scenario io --pairs 8
    python benchmarks/ab.py --before main --scenario sync --pairs 12 -- -n 2

``--after-args`` adds pytest arguments to the later runs only: what an option
costs, at one commit (``--before HEAD`` with a clean working tree):

    python benchmarks/ab.py --before HEAD --after-args=--asyncgroup-doctor --pairs 8
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from comparison.suites import IOSuite, SyncSuite, render, write

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
WORK = BENCHMARKS / ".work" / "ab"
SUITES: dict[str, IOSuite | SyncSuite] = {"io": IOSuite(), "sync": SyncSuite()}


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


def timed_run(suite_dir: Path, source: Path | None, extra: list[str]) -> float:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    if source is not None:
        env["PYTHONPATH"] = str(source / "src")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "no:randomly", "--dist=asyncgroup", *extra]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=suite_dir, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"run failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr}")
    return seconds


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
    ratios, befores, afters = [], [], []
    for _ in range(args.pairs):
        old = timed_run(suite_dir, before, args.extra)
        new = timed_run(suite_dir, None, after_extra)
        befores.append(old)
        afters.append(new)
        ratios.append(new / old)
    print(f"scenario {args.scenario}, {args.pairs} pairs, pytest args {args.extra or '(none)'}")
    print(f"before ({args.before}): median {statistics.median(befores):.3f}s")
    print(
        f"after (working tree{', ' + args.after_args if args.after_args else ''}): median"
        f" {statistics.median(afters):.3f}s"
    )
    print(
        f"after/before: median {statistics.median(ratios):.3f}"
        f" (min {min(ratios):.3f}, max {max(ratios):.3f})"
    )


if __name__ == "__main__":
    main()
