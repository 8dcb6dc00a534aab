"""The cyclic garbage collector's time, by generation, in each pytest process.

Load it with ``-p bench_gc_probe`` and ``benchmarks/comparison/probe`` on
``PYTHONPATH`` (xdist passes it on to the workers). At the end of the session
each process appends one line to the file named by ``BENCH_GC_FILE``: its name
(the xdist worker id, or ``main``), and per generation how many collections ran
and how long they took. py-spy and cProfile charge the collector's time to
whichever frame allocated, so it shows only here (``benchmarks/PROFILE.md``,
"The third cut: the collector"):

    BENCH_GC_FILE=/tmp/gc.jsonl PYTHONPATH=benchmarks/comparison/probe \\
        python -m pytest -p bench_gc_probe -n 0 --dist=asyncgroup ...
"""

from __future__ import annotations

import gc
import json
import os
import time
from typing import Any

import pytest

_started: list[float] = []
_count = [0, 0, 0]
_seconds = [0.0, 0.0, 0.0]


def _timed(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started.append(time.perf_counter())
    elif _started:
        generation = info["generation"]
        _count[generation] += 1
        _seconds[generation] += time.perf_counter() - _started.pop()


gc.callbacks.append(_timed)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish() -> None:
    path = os.environ.get("BENCH_GC_FILE")
    if not path:
        return
    record = {
        "process": os.environ.get("PYTEST_XDIST_WORKER", "main"),
        "collections": list(_count),
        "seconds": [round(seconds, 4) for seconds in _seconds],
    }
    with open(path, "a") as out:
        out.write(json.dumps(record) + "\n")
