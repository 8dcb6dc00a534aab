"""The synthetic suites, written in each runner's dialect (pure functions: path -> text).

Every runner measures the *same* tests; ``dialects`` says how each one marks
what a test may overlap. Three suites: ``IOSuite`` (async tests with an async
fixture, awaits and CPU, over keys), ``SyncSuite`` (trivial sync tests) and
``ServiceSuite`` (in ``service_suite``: clients of a local HTTP service).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from comparison.dialects import COOPERATIVE_KEY_LOCK, Dialect, Files, ini, mark_list, marks
from comparison.service_suite import ServiceSuite, service_files


@dataclass(frozen=True)
class IOSuite:
    """Async tests with an async fixture, awaits and a little CPU, spread over keys.

    Keys are ``key0 .. key{keys-1}``, each held by ``tests_per_key`` tests, of
    which ``exclusive_share`` hold it exclusively (spread evenly among the
    others, as a "reset" test sits among the tests it resets for). Keys and
    key-less tests are dealt round-robin over ``modules`` test modules.
    """

    keys: int = 8
    tests_per_key: int = 40
    free_tests: int = 80
    exclusive_share: float = 0.0
    fixture_setup: float = 0.02
    awaits: int = 2
    await_seconds: float = 0.05
    cpu_seconds: float = 0.001
    modules: int = 1

    @property
    def tests(self) -> int:
        return self.keys * self.tests_per_key + self.free_tests

    def describe(self) -> str:
        exclusive = f", {self.exclusive_share:.0%} of keyed tests exclusive"
        return (
            f"{self.tests:,} async tests: {self.keys} keys x {self.tests_per_key} tests"
            f" + {self.free_tests} with no key{exclusive if self.exclusive_share else ''},"
            f" in {self.modules} module(s); each test: a {self.fixture_setup * 1000:g} ms async"
            f" fixture setup, {self.awaits} awaits of {self.await_seconds * 1000:g} ms,"
            f" {self.cpu_seconds * 1000:g} ms of CPU"
        )


@dataclass(frozen=True)
class SyncSuite:
    """Trivial synchronous tests: what a suite that gains nothing pays."""

    tests: int = 5000

    def describe(self) -> str:
        return f"{self.tests:,} trivial sync tests (``def test(i): pass``), one module"


Suite = IOSuite | SyncSuite | ServiceSuite


def render(suite: Suite, dialect: Dialect) -> Files:
    """All files of ``suite`` in ``dialect``, by path relative to the suite's root."""
    if isinstance(suite, SyncSuite):
        return {"pytest.ini": ini(dialect), "test_trivial.py": _sync_module(suite)}
    if isinstance(suite, IOSuite):
        return _io_files(suite, dialect)
    return service_files(suite, dialect)


IO_PRELUDE = """
import asyncio
import time

import pytest

FIXTURE_SETUP = {fixture_setup!r}
AWAITS = {awaits!r}
AWAIT_SECONDS = {await_seconds!r}
CPU_SECONDS = {cpu_seconds!r}


@pytest.fixture
async def connection():
    await asyncio.sleep(FIXTURE_SETUP)
    yield


def burn(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def body():
    if AWAITS == 0:
        burn(CPU_SECONDS)
    for n in range(AWAITS):
        await asyncio.sleep(AWAIT_SECONDS)
        if n == 0:
            burn(CPU_SECONDS)


def params(count, shared, exclusive, positions):
    return [pytest.param(i, marks=exclusive if i in positions else shared) for i in range(count)]
"""

IO_TEST = """

@pytest.mark.parametrize("i", {params})
async def test_{name}(connection, i):
    await body()
"""


def exclusive_positions(count: int, share: float) -> list[int]:
    """Indices, among ``count`` tests of a key, of the exclusive ones: evenly spread."""
    exclusive = round(count * share)
    return sorted({(2 * j + 1) * count // (2 * exclusive) for j in range(exclusive)})


def _io_test(
    suite: IOSuite, dialect: Dialect, module: str, name: str, key: str | None, count: int
) -> str:
    positions = exclusive_positions(count, suite.exclusive_share) if key is not None else []
    shared = mark_list(marks(dialect, key, False, module))
    if positions:
        exclusive = mark_list(marks(dialect, key, True, module))
        params = f"params({count}, {shared}, {exclusive}, {positions})"
    elif shared == "[]":
        params = f"range({count})"
    else:
        params = f"params({count}, {shared}, [], [])"
    return IO_TEST.format(params=params, name=name)


def _io_files(suite: IOSuite, dialect: Dialect) -> Files:
    prelude = IO_PRELUDE.format(
        fixture_setup=suite.fixture_setup,
        awaits=suite.awaits,
        await_seconds=suite.await_seconds,
        cpu_seconds=suite.cpu_seconds,
    )
    needs_lock = dialect == "cooperative" and suite.exclusive_share > 0
    files = {"pytest.ini": ini(dialect, needs_lock)}
    if needs_lock:
        files["conftest.py"] = COOPERATIVE_KEY_LOCK
    for index in range(suite.modules):
        module = f"test_io_{index}"
        tests = [
            _io_test(suite, dialect, module, f"key{key}", f"key{key}", suite.tests_per_key)
            for key in range(index, suite.keys, suite.modules)
        ]
        free = suite.free_tests // suite.modules + (index < suite.free_tests % suite.modules)
        if free:
            tests.append(_io_test(suite, dialect, module, "free", None, free))
        files[f"{module}.py"] = prelude + "".join(tests)
    return files


def _sync_module(suite: SyncSuite) -> str:
    return textwrap.dedent(
        f"""
        import pytest


        @pytest.mark.parametrize("i", range({suite.tests}))
        def test_trivial(i):
            pass
        """
    )


def write(files: Files, directory: Path) -> None:
    """Write ``files`` under ``directory``, replacing what a previous suite left there."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.py"):
        old.unlink()
    for path, text in files.items():
        (directory / path).write_text(text)
