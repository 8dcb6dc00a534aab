"""The package as a user gets it (``nox -s build``, ``.ci/run``).

Builds the sdist and the wheel (``python -m build``), checks their metadata
(``twine check --strict``) and contents, then installs the **wheel** into a
fresh venv and runs the example suite against it, from a directory where the
source tree cannot be imported: a module missing from the wheel fails here,
not on a user's machine.

    python scripts/check_dist.py [--outdir dist]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "pytest_asyncgroup"
SDIST_MUST_HAVE = ("tests/conftest.py", "docs/conf.py", "docs/index.md", "CHANGELOG.md")
SDIST_MUST_HAVE += ("examples/pytest.ini", "src/pytest_asyncgroup/plugin.py")


def run(*args: str | Path, cwd: Path = ROOT) -> str:
    print("+", " ".join(str(a) for a in args), flush=True)
    done = subprocess.run(args, cwd=cwd, check=True, text=True, stdout=subprocess.PIPE)
    print(done.stdout, end="", flush=True)
    return done.stdout


def version() -> str:
    text = (PACKAGE / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    if match is None:
        sys.exit("no __version__ in src/pytest_asyncgroup/__init__.py")
    return match.group(1)


def check_wheel(wheel: Path) -> None:
    """The wheel holds the package, all of it, and nothing else."""
    names = set(zipfile.ZipFile(wheel).namelist())
    package = {n for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    source = {
        p.relative_to(PACKAGE.parent).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    if missing := sorted(source - package):
        sys.exit(f"{wheel.name} lacks {missing}")
    if extra := sorted(package - source):
        sys.exit(f"{wheel.name} has files that are not the package's: {extra}")
    entry_points = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    if not entry_points or b"pytest11" not in zipfile.ZipFile(wheel).read(entry_points[0]):
        sys.exit(f"{wheel.name} has no pytest11 entry point")


def check_sdist(sdist: Path) -> None:
    """The sdist is enough to build, test and document the package."""
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    if missing := [n for n in SDIST_MUST_HAVE if n not in names]:
        sys.exit(f"{sdist.name} lacks {missing}")
    if built := sorted(n for n in names if n.startswith("docs/_build")):
        sys.exit(f"{sdist.name} has built docs: {built[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outdir", type=Path, default=ROOT / "dist")
    outdir = parser.parse_args().outdir.resolve()
    shutil.rmtree(outdir, ignore_errors=True)
    run(sys.executable, "-m", "build", "--outdir", outdir, ROOT)
    expected = version()
    wheels = list(outdir.glob("*.whl"))
    sdists = list(outdir.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        sys.exit(f"expected one wheel and one sdist in {outdir}, found {wheels + sdists}")
    wheel, sdist = wheels[0], sdists[0]
    for artefact in (wheel, sdist):
        if f"-{expected}" not in artefact.name:
            sys.exit(f"{artefact.name} does not carry __version__ {expected}")
    run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist)
    check_wheel(wheel)
    check_sdist(sdist)

    with tempfile.TemporaryDirectory(prefix="asyncgroup-wheel-") as tmp:
        env_dir, suite = Path(tmp) / "venv", Path(tmp) / "examples"
        venv.create(env_dir, with_pip=True)
        python = env_dir / "bin" / "python"
        run(python, "-m", "pip", "install", "-q", wheel)
        shutil.copytree(ROOT / "examples", suite, ignore=shutil.ignore_patterns("__pycache__"))
        where = run(python, "-c", "import pytest_asyncgroup as p; print(p.__file__)", cwd=suite)
        if not where.strip().startswith(str(env_dir)):
            sys.exit(f"the example suite would not test the wheel: imported from {where}")
        run(
            python,
            "-m",
            "pytest",
            "-n",
            "2",
            "--dist=asyncgroup",
            "-p",
            "no:cacheprovider",
            cwd=suite,
        )
    print(f"ok: {wheel.name} and {sdist.name}")


if __name__ == "__main__":
    main()
