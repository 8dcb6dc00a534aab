"""How a person runs everything: ``nox`` (tests, lint, types), ``nox -s docs build``,
``nox -s bench``."""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "types"]
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

# pyenv installs several Pythons but activates one: let its shims find them all.
_pyenv = Path.home() / ".pyenv" / "versions"
if _pyenv.is_dir() and "PYENV_VERSION" not in os.environ:
    os.environ["PYENV_VERSION"] = ":".join(
        sorted(p.name for p in _pyenv.iterdir() if p.name.startswith("3."))
    )

# The oldest supported pytest/xdist (and pytest-rerunfailures), without pytest-asyncio
# (1.x needs pytest 8.4) or pytest-timeout or uvloop, and the newest, with them: both
# ends of the support range, with and without the plugins we honour.
DEPENDENCIES = {
    "oldest": [
        "pytest==8.3.5",
        "pytest-xdist==3.6.1",
        "execnet==2.1.1",
        "hypothesis",
        "pytest-rerunfailures==14.0",
    ],
    "newest": [
        "pytest",
        "pytest-xdist",
        "hypothesis",
        "pytest-asyncio",
        "pytest-timeout",
        "pytest-rerunfailures",
        "pytest-cov",
        "pytest-randomly",
        "pytest-mock",
        "anyio",
        "trio",
        "uvloop; sys_platform != 'win32'",
    ],
}


@nox.session(python=PYTHONS)
@nox.parametrize("deps", list(DEPENDENCIES))
def tests(session: nox.Session, deps: str) -> None:
    # The PostgreSQL example's test needs its dependencies (and skips without PostgreSQL).
    session.install("-e", ".[postgres-example]", *DEPENDENCIES[deps])
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python="3.11")
def fidelity(session: nox.Session) -> None:
    """Generated suites, plain pytest against ``--dist=asyncgroup``
    (``tests/acceptance/suitegen.py``): ``nox -s fidelity -- --seeds 500`` runs
    seeds 1..500 (CI runs a fixed dozen)."""
    seeds = "200"
    if "--seeds" in session.posargs:
        seeds = session.posargs[session.posargs.index("--seeds") + 1]
    session.install("-e", ".", *DEPENDENCIES["newest"])
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/acceptance/test_fidelity.py",
        "--fidelity-seeds",
        seeds,
        "-q",
    )


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("ruff")
    paths = ["src", "tests", "benchmarks", "examples", "scripts", "noxfile.py"]
    paths += ["docs/conf.py", "docs/_ext"]  # not docs/: ruff would format the pages' examples
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session(python="3.11")
def types(session: nox.Session) -> None:
    session.install("-e", ".", "mypy", "exceptiongroup")
    session.run("mypy")


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """The documentation, warnings as errors, into ``docs/_build/html``.

    ``nox -s docs -- -b linkcheck`` (or any sphinx-build arguments) replaces the defaults.
    """
    session.install("-e", ".[docs]")
    args = session.posargs or ["-b", "html"]
    session.run("python", "-m", "sphinx", "-W", "--keep-going", *args, "docs", "docs/_build/html")


@nox.session(python="3.11")
def build(session: nox.Session) -> None:
    """The sdist and wheel as a user gets them: built, checked (``twine check``), and the
    wheel installed in a fresh venv to run the example suite (``scripts/check_dist.py``)."""
    session.install("build", "twine")
    session.run("python", "scripts/check_dist.py", *session.posargs)


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """The engine benchmark, then the comparison with other runners (all scenarios).

    The comparison makes its own pinned environment per runner under
    ``benchmarks/.work/venvs`` and writes ``benchmarks/results/``; arguments after
    ``--`` go to it (``nox -s bench -- --quick``, ``-- --scenario io --rounds 5``).
    """
    session.install("-e", ".", "pytest-asyncio")
    session.run("python", "benchmarks/engine.py")
    session.run("python", "benchmarks/compare.py", *(session.posargs or ["--scenario", "all"]))


@nox.session(python="3.11")
def third_party(session: nox.Session) -> None:
    """Real third-party suites (pytest-asyncio users), plain and ``-n 2 --dist=asyncgroup``.

    Downloads each pinned sdist from PyPI, makes its venv under
    ``benchmarks/.work/third_party`` and compares per-test outcomes; arguments after
    ``--`` go to the script (``nox -s third_party -- --project janus --plain-runs 2``;
    ``-- --doctor 2 --runs 3``: the doctor's suggestions instead of the hand marks).
    """
    session.run("python", "scripts/third_party.py", *session.posargs)
