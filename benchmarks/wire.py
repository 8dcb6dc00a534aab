"""What a test's events cost on the wire from an xdist worker to its controller.

A worker sends six xdist events a test (its start, three reports, its log end,
its completion). execnet serializes a message value by value in Python; under
``--dist=asyncgroup`` the worker packs each batch with :mod:`marshal` instead
(``_xdist/protocol.py``). This times both ways on real serialized reports: it
runs a small suite in-process, keeps each report as the worker would send it
(``pytest_report_to_serializable``), builds one test's batch of events, and
times each side (dump on the worker, load on the controller).

    python benchmarks/wire.py
"""

from __future__ import annotations

import contextlib
import io
import marshal
import sys
import tempfile
import timeit
from pathlib import Path
from typing import Any

import execnet
import pytest

SUITE = """
import pytest

@pytest.mark.parametrize("i", [1])
def test_passes(i, record_property):
    print("out")
    record_property("i", i)

def test_fails():
    assert 1 == 2
"""


class _Keep:
    def __init__(self) -> None:
        self.reports: dict[str, list[dict[str, Any]]] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        config = self.config
        data = config.hook.pytest_report_to_serializable(config=config, report=report)
        data.update(item_index=0, worker_id="gw0", testrun_uid="0" * 32)  # as xdist adds
        self.reports.setdefault(report.nodeid, []).append(data)

    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config


def batches() -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Per test of :data:`SUITE`: its six events, as a worker sends them."""
    keep = _Keep()
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "test_wire.py").write_text(SUITE)
        with contextlib.redirect_stdout(io.StringIO()):  # its failure is on purpose
            pytest.main(
                [
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    "-p",
                    "no:randomly",
                    "-p",
                    "no:asyncio",
                    directory,
                ],
                [keep],
            )
    found = {}
    for nodeid, reports in keep.reports.items():
        location = tuple(reports[0]["location"])
        found[nodeid.split("::")[-1]] = [
            ("logstart", {"nodeid": nodeid, "location": location}),
            *(("testreport", {"data": data}) for data in reports),
            ("logfinish", {"nodeid": nodeid, "location": location}),
            ("runtest_protocol_complete", {"item_index": 0, "duration": 0.001}),
        ]
    return found


def _microseconds(function: Any, *args: Any, number: int = 2000) -> float:
    return min(timeit.repeat(lambda: function(*args), number=number, repeat=5)) / number * 1e6


def main() -> None:
    print(f"Python {sys.version.split()[0]}, execnet {execnet.__version__}")
    print("| test | execnet: dump / load (us) | marshal: dump / load (us) | bytes |")
    print("| --- | --- | --- | --- |")
    for name, events in batches().items():
        message = ("pytest_asyncgroup_events", {"events": events})
        wire = execnet.dumps(message)
        packed = marshal.dumps(events, 4)
        execnet_dump = _microseconds(execnet.dumps, message)
        execnet_load = _microseconds(execnet.loads, wire)
        marshal_dump = _microseconds(marshal.dumps, events, 4)
        marshal_load = _microseconds(marshal.loads, packed)
        print(
            f"| {name} | {execnet_dump:.1f} / {execnet_load:.1f}"
            f" | {marshal_dump:.1f} / {marshal_load:.1f} | {len(wire)} / {len(packed)} |"
        )


if __name__ == "__main__":
    main()
