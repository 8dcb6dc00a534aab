"""What each test touches that other tests can see, for the doctor (``--asyncgroup-doctor``).

Python's audit events say when code opens a file, renames or removes one, binds
a socket, sets an environment variable, changes directory or starts a
subprocess, whoever calls it (the test's code, a library, the system under test
in the same process). Each event is charged to the test whose code is running
(``per_test.py``: its tasks and the threads working for it count), with the
first frame in the suite's own code as evidence.

An audit hook cannot be removed: it is added once per process, the first time
the doctor runs, and does nothing while no :class:`TouchRecorder` is installed.
What it cannot see: C code that calls the system directly, writes made by
subprocesses, and anything outside this process (one database table shared by
two tests): those are still the user's to declare.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from .._core.conflicts import CWD, ENV, FILE, FOUND_PORT, LISTING, PORT, SUBPROCESS
from . import per_test
from .isolation import current_gate

_WRITING = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
"""Opened so that it may be written. Whether it was is known at the test's end:
a file that existed, opened this way, and whose size and modification time are
unchanged then (``a+``, ``r+`` used to read) counts as read."""
_ANONYMOUS = getattr(os, "O_TMPFILE", 0)
"""An unnamed temporary file in a directory (``tempfile.TemporaryFile``): nobody's."""
_CHANGING_PATHS = {"os.remove": 1, "os.rmdir": 1, "shutil.rmtree": 1, "os.mkdir": 1}
"""Events whose first argument is a path they change (value: how many paths)."""
_IMPORTED = (".py", ".pyc", ".so", ".pth")
_LISTING = frozenset({"os.listdir", "os.scandir"})
"""Reads of a directory's entries."""
_OWN_PACKAGE = str(Path(__file__).resolve().parent.parent)

Entry = tuple[str, str, bool, str, bool]
"""``(kind, target, changed, where, isolated)``, as the teardown report carries it."""


class TouchRecorder:
    """Per test (by node id), the things it touched, each once (a change wins)."""

    def __init__(self, root: Path, own_temp: tuple[str, ...] = ()) -> None:
        """``own_temp``: directories holding each test's own ``tmp_path`` (pytest's
        base temporary directories): nothing there is shared."""
        self._root = str(root)
        self._own_temp = tuple(os.path.join(os.path.abspath(path), "") for path in own_temp)
        self._by_test: dict[str, dict[tuple[str, str], Entry]] = {}
        self._before: dict[str, dict[str, tuple[str, tuple[int, int]]]] = {}
        """Per test, per target: the file's path and (size, mtime) when first opened to write."""
        self._lock = threading.Lock()

    def pop(self, nodeid: str) -> list[Entry]:
        with self._lock:
            entries = list(self._by_test.pop(nodeid, {}).values())
            before = self._before.pop(nodeid, {})
        for i, (kind, target, changed, where, isolated) in enumerate(entries):
            if kind == FILE and changed and target in before:
                path, stat = before[target]
                if _stat(path) == stat:  # opened to write, left as it was
                    entries[i] = (kind, target, False, where, isolated)
        return entries

    def event(self, name: str, args: tuple[Any, ...]) -> None:
        if name == "open":
            path, mode, flags = args
            if not isinstance(path, (str, bytes, os.PathLike)):
                return  # a file descriptor: its path was seen when it was opened
            if isinstance(flags, int) and _ANONYMOUS and (flags & _ANONYMOUS) == _ANONYMOUS:
                return
            changed = bool(flags & _WRITING) if isinstance(flags, int) else "r" not in str(mode)
            text = os.fsdecode(path)
            if not changed and text.endswith(_IMPORTED):
                return  # imports read source files: not what tests share
            if changed and os.path.isdir(text):
                return  # a directory "opened to write": an unnamed temporary file in it
            if changed and not os.path.lexists(text):
                self._entry_changed(text)  # a new file: its directory's listing changes
            else:
                self._file(text, changed, opened=changed)
        elif name in _CHANGING_PATHS:
            if isinstance(args[0], (str, bytes, os.PathLike)):
                self._entry_changed(os.fsdecode(args[0]))
        elif name == "os.rename":
            for path in args[:2]:
                if isinstance(path, (str, bytes, os.PathLike)):
                    self._entry_changed(os.fsdecode(path))
        elif name in _LISTING:
            path = args[0] if args and args[0] is not None else "."
            if isinstance(path, (str, bytes, os.PathLike)):
                self._file(os.fsdecode(path), False, kind=LISTING)
        elif name == "socket.bind":
            address = args[1]
            if isinstance(address, tuple) and len(address) >= 2 and address[1]:
                self._touch(PORT, str(address[1]), True)
            elif isinstance(address, (str, bytes)) and address:
                self._file(os.fsdecode(address), True)  # a Unix socket
        elif name in ("os.putenv", "os.unsetenv"):
            variable = os.fsdecode(args[0])
            if variable != "PYTEST_CURRENT_TEST":  # pytest's own, per test
                self._touch(ENV, variable, True)
        elif name == "os.chdir":
            self._touch(CWD, "working directory", True)
        elif name == "subprocess.Popen":
            executable = args[0] or (args[1][0] if args[1] else "")
            self._touch(SUBPROCESS, os.fsdecode(executable), True)

    def _entry_changed(self, path: str) -> None:
        """``path`` made, removed or renamed: it changes, and so do the listing of its
        directory (what ``os.listdir`` returns) and its own (a directory's)."""
        self._file(path, True)
        self._file(path, True, kind=LISTING)
        self._file(os.path.dirname(os.path.abspath(path)), True, kind=LISTING)

    def _file(self, path: str, changed: bool, *, opened: bool = False, kind: str = FILE) -> None:
        absolute = os.path.abspath(path)
        if "__pycache__" in absolute or absolute.startswith(self._own_temp):
            return
        root = self._root
        shown = os.path.relpath(absolute, root) if absolute.startswith(root + os.sep) else absolute
        if opened:  # the event comes before the open: the file as it was
            stat = _stat(absolute)
            test = per_test.current()
            if stat is not None and test is not None:
                with self._lock:
                    own = self._before.setdefault(test.nodeid, {})
                    own.setdefault(shown, (absolute, stat))
        self._touch(kind, shown, changed)

    def _touch(self, kind: str, target: str, changed: bool) -> None:
        test = per_test.current()
        if test is None:
            return
        gate = current_gate()
        isolated = gate is not None and gate.holder is test
        with self._lock:
            own = self._by_test.setdefault(test.nodeid, {})
            known = own.get((kind, target))
            if known is not None and (known[2] or not changed):
                return
        where = _where(sys._getframe(2), self._root)
        with self._lock:
            own[(kind, target)] = (kind, target, changed, where, isolated)

    def found_port(self, port: int) -> None:
        """The running test found ``port`` with a bind to port 0 (``ports.py``)."""
        self._touch(FOUND_PORT, str(port), False)


def _stat(path: str) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_size, found.st_mtime_ns)


def _where(frame: FrameType | None, root: str) -> str:
    """The first frame in the suite's own code: ``tests/test_x.py:12``."""
    while frame is not None:
        filename = frame.f_code.co_filename
        if (
            filename.startswith(root)
            and "site-packages" not in filename
            and not filename.startswith(_OWN_PACKAGE)
        ):
            return f"{os.path.relpath(filename, root)}:{frame.f_lineno}"
        frame = frame.f_back
    return ""


_RECORDER: list[TouchRecorder | None] = [None]
_HOOKED = [False]
_EVENTS = frozenset(
    {"open", "os.rename", "socket.bind", "os.putenv", "os.unsetenv", "os.chdir"}
    | {"subprocess.Popen", *_CHANGING_PATHS, *_LISTING}
)


def _audit(name: str, args: tuple[Any, ...]) -> None:
    if name in _EVENTS:
        recorder = _RECORDER[0]
        if recorder is not None:
            with contextlib.suppress(Exception):  # the doctor never changes an outcome
                recorder.event(name, args)


def recording(recorder: TouchRecorder) -> None:
    """Start charging touches to tests (for the rest of the process)."""
    if not _HOOKED[0]:
        sys.addaudithook(_audit)
        _HOOKED[0] = True
    _RECORDER[0] = recorder


def stop_recording() -> None:
    _RECORDER[0] = None


def found_port(port: int) -> None:
    """Tell the doctor, if it records, that the running test found ``port``."""
    recorder = _RECORDER[0]
    if recorder is not None:
        with contextlib.suppress(Exception):  # the doctor never changes an outcome
            recorder.found_port(port)


def taken(nodeid: str) -> list[Entry]:
    """What the test touched (and forget it); empty while the doctor is off."""
    recorder = _RECORDER[0]
    return recorder.pop(nodeid) if recorder is not None else []
