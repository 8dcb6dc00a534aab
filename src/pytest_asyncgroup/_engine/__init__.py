"""The engine: runs a worker's tests concurrently on one asyncio loop.

Nothing here knows whether xdist is running; a driver submits tests to a
:class:`WorkerLoop` and awaits :meth:`WorkerLoop.serve`.
"""

from .._core.admission import Admission, Claim
from .bridge import await_only, in_bridge
from .fixtures import async_fixture_shim
from .interrupt import run_interruptible
from .item import RECORD, TestRecord, call_async_test, is_async_test, on_other_backend
from .loop import OnDone, OnStart, WorkerLoop
from .output import in_overlapping_test
from .ports import FoundPorts
from .stalls import Stall
from .touches import TouchRecorder, recording, stop_recording, taken

__all__ = [
    "RECORD",
    "Admission",
    "Claim",
    "FoundPorts",
    "OnDone",
    "OnStart",
    "Stall",
    "TestRecord",
    "TouchRecorder",
    "WorkerLoop",
    "async_fixture_shim",
    "await_only",
    "call_async_test",
    "in_bridge",
    "in_overlapping_test",
    "is_async_test",
    "on_other_backend",
    "recording",
    "run_interruptible",
    "stop_recording",
    "taken",
]
