"""Loaded into every measured pytest process with ``-p bench_rss_probe`` (xdist passes it on).

At the end of the session each process appends its peak resident set size and
its name (the xdist worker id, or ``main`` for the only or controlling process)
to the file named by ``BENCH_RSS_FILE``. It lives in the benchmark, not in the
plugin: it measures every runner alike.
"""

from __future__ import annotations

import json
import os
import resource

import pytest


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish() -> None:
    path = os.environ.get("BENCH_RSS_FILE")
    if not path:
        return
    record = {
        "process": os.environ.get("PYTEST_XDIST_WORKER", "main"),
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,  # KiB on Linux
    }
    with open(path, "a") as out:
        out.write(json.dumps(record) + "\n")
