"""One virtual environment per runner, at pinned versions, under ``benchmarks/.work/venvs``.

Each competitor gets its own environment so that no plugin changes another's
behaviour (pytest-asyncio-cooperative refuses to run beside pytest-asyncio, and
pytest-asyncgroup must not be installed where a competitor is measured). pytest,
pytest-xdist and pytest-asyncio are pinned to the versions the project's own
development environment was measured with, so only the plugin under test
differs between runners.

pytest-asyncgroup is installed from a snapshot of the repository's last commit
(``git archive HEAD``), taken once per invocation, not from the working tree:
the numbers then belong to a commit, named in the report, and edits in progress
in ``src/`` cannot leak into a measurement half made.

An environment is reused when its recorded pins (and commit) match; otherwise it
is rebuilt.
"""

from __future__ import annotations

import functools
import io
import json
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent
REPOSITORY = BENCHMARKS.parent
VENVS = BENCHMARKS / ".work" / "venvs"

PYTEST = "pytest==9.2.0"
XDIST = ["pytest-xdist==3.8.0", "execnet==2.1.2"]
PYTEST_ASYNCIO = "pytest-asyncio==1.5.0"
CONCURRENT = "pytest-asyncio-concurrent==0.5.2"  # the newest on PyPI on 2026-11-26
COOPERATIVE = "pytest-asyncio-cooperative==0.40.0"  # the newest on PyPI on 2026-11-26
MATPLOTLIB = "matplotlib==3.11.2"


@dataclass(frozen=True)
class Environment:
    """A named virtual environment and what is installed in it."""

    name: str
    requirements: tuple[str, ...]
    from_repository: bool = False  # pytest-asyncgroup from a snapshot of this repository

    @property
    def path(self) -> Path:
        return VENVS / self.name

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


PYTEST_ASYNCIO_ENV = Environment("pytest-asyncio", (PYTEST, *XDIST, PYTEST_ASYNCIO))
CONCURRENT_ENV = Environment("pytest-asyncio-concurrent", (PYTEST, *XDIST, CONCURRENT))
COOPERATIVE_ENV = Environment("pytest-asyncio-cooperative", (PYTEST, *XDIST, COOPERATIVE))
ASYNCGROUP_ENV = Environment(
    "pytest-asyncgroup",
    (PYTEST, *XDIST, PYTEST_ASYNCIO, "greenlet==3.5.6"),
    from_repository=True,
)
PLOT_ENV = Environment("plot", (MATPLOTLIB,))
# examples/postgres_service: its runners differ only in their arguments, so one
# environment (the example's markers and hook need pytest-asyncgroup installed;
# without --dist=asyncgroup it stays idle). The newest of each on 2026-12-07.
POSTGRES_EXAMPLE = ("starlette==1.10.0", "uvicorn==0.55.0", "asyncpg==0.32.0", "httpx==0.29.0")
POSTGRES_ENV = Environment(
    "postgres-example",
    (PYTEST, *XDIST, PYTEST_ASYNCIO, "greenlet==3.5.6", *POSTGRES_EXAMPLE),
    from_repository=True,
)

# What the report lists as "package versions" for each environment.
REPORTED_PACKAGES = (
    "pytest",
    "pytest-xdist",
    "pytest-asyncio",
    "pytest-asyncio-concurrent",
    "pytest-asyncio-cooperative",
    "pytest-asyncgroup",
    "greenlet",
    "starlette",
    "uvicorn",
    "asyncpg",
    "httpx",
)


def _pins_file(env: Environment) -> Path:
    return env.path / "benchmark-pins.json"


@functools.cache
def repository_commit() -> str:
    """The commit pytest-asyncgroup is measured at: HEAD when this process first asks."""
    return subprocess.run(
        ["git", "-C", str(REPOSITORY), "rev-parse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def _snapshot(commit: str) -> Path:
    """The repository's files at ``commit``, extracted under ``.work/snapshots``."""
    target = VENVS.parent / "snapshots" / commit[:12]
    if not (target / "pyproject.toml").exists():
        archive = subprocess.run(
            ["git", "-C", str(REPOSITORY), "archive", "--format=tar", commit],
            check=True,
            capture_output=True,
        ).stdout
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(target, filter="data")
    return target


def _wanted(env: Environment) -> dict[str, object]:
    commit = repository_commit() if env.from_repository else None
    return {"requirements": list(env.requirements), "commit": commit}


def ensure(env: Environment) -> Environment:
    """Create ``env`` unless it exists with the same pins; return it."""
    pins = _pins_file(env)
    if env.python.exists() and pins.exists() and json.loads(pins.read_text()) == _wanted(env):
        return env
    if env.path.exists():
        shutil.rmtree(env.path)
    print(f"creating {env.path} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(env.path)], check=True)
    install = [str(env.python), "-m", "pip", "install", "-q", *env.requirements]
    if env.from_repository:
        install.append(str(_snapshot(repository_commit())))
    subprocess.run(install, check=True)
    if not env.from_repository and "pytest-asyncgroup" in versions(env):
        raise SystemExit(f"{env.name}: pytest-asyncgroup must not be installed in a competitor")
    pins.write_text(json.dumps(_wanted(env)))
    return env


def versions(env: Environment) -> dict[str, str]:
    """Installed distribution versions in ``env``, by lower-case name."""
    listing = subprocess.run(
        [str(env.python), "-m", "pip", "list", "--format=json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {entry["name"].lower(): entry["version"] for entry in json.loads(listing)}


def python_version(env: Environment) -> str:
    return subprocess.run(
        [str(env.python), "-c", "import platform; print(platform.python_version())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
