"""Helpers for the acceptance tests: inner suites record when each test ran.

Concurrency is proven from evidence, never from wall time: the inner suite's
``span`` helper appends ``name start end worker`` lines to a file, and
:func:`peak_overlap` computes how many spans were open at once. The clock is
``time.perf_counter`` (CLOCK_MONOTONIC on Linux: one clock for every process, so
spans from different xdist workers compare).
"""

from __future__ import annotations

import asyncio  # noqa: F401  (see below)
import json
from collections.abc import Iterable

import pytest

pytest_plugins = ["pytester"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fidelity-seeds",
        type=int,
        default=0,
        help="test_fidelity.py: run generated suites 1..N (default: the fixed CI set)",
    )


# asyncio is imported here, before any inner run: pytester's in-process runs drop
# the modules first imported during a run, and a second import of asyncio.events
# would leave asyncio's C accelerator (``get_event_loop``) on the first one's policy.

RECORDER = """
import asyncio, contextlib, json, os, time
from pathlib import Path

import pytest

EVENTS = Path(__file__).parent / "events.jsonl"


WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def log(name, start, end, **extra):
    line = {"name": name, "start": start, "end": end, "worker": WORKER, **extra}
    with EVENTS.open("a") as fh:
        fh.write(json.dumps(line) + "\\n")


@contextlib.asynccontextmanager
async def span(name, **extra):
    start = time.perf_counter()
    yield
    log(name, start, time.perf_counter(), **extra)


async def waiting(name, seconds=0.2, **extra):
    async with span(name, **extra):
        await asyncio.sleep(seconds)


@contextlib.contextmanager
def sync_span(name, **extra):
    start = time.perf_counter()
    yield
    log(name, start, time.perf_counter(), **extra)
"""


@pytest.fixture(autouse=True)
def _inner_runs_keep_their_order(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest-randomly, when installed, would shuffle every inner suite; only the
    test of our compatibility with it turns it back on. And when this suite runs
    under xdist, an inner run in this process must not believe it is a worker."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it clears PYTEST_ADDOPTS when created
        monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:randomly")
        monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester dir whose tests can ``from recorder import span, waiting, log``."""
    pytester.makepyfile(recorder=RECORDER)
    write_ini(pytester)
    pytester.syspathinsert()
    return pytester


BASE_INI = """\
[pytest]
asyncio_default_fixture_loop_scope = function
filterwarnings = ignore::pytest.PytestConfigWarning
"""


def write_ini(pytester: pytest.Pytester, *lines: str) -> None:
    """The inner suite's ini: a quiet pytest-asyncio, plus ``lines``."""
    pytester.makefile(".ini", pytest=BASE_INI + "".join(line + "\n" for line in lines))


def events(pytester: pytest.Pytester) -> list[dict[str, object]]:
    path = pytester.path / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def spans(pytester: pytest.Pytester, prefix: str = "") -> list[tuple[float, float]]:
    return [
        (float(e["start"]), float(e["end"]))  # type: ignore[arg-type]
        for e in events(pytester)
        if str(e["name"]).startswith(prefix)
    ]


def peak_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """Most intervals open at one instant (an end at t closes before a start at t)."""
    points = sorted(
        [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
        key=lambda point: (point[0], point[1]),
    )
    peak = current = 0
    for _, delta in points:
        current += delta
        peak = max(peak, current)
    return peak


def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]
