"""The doctor's findings: which overlapping tests touched the same thing, and the
declaration that keeps them apart (pure; no pytest).

A :class:`Touch` is one test touching something other tests can see: a file
written or read, a fixed port bound, an environment variable or the working
directory changed, a subprocess started. Two tests *conflict* on a thing when
at least one of them changed it and:

- for a file or a directory's listing: the other touched it too, whether or not
  they ran at the same time in this run (the machine shares files, and another
  run may put the two side by side);
- for a fixed port: they ran at the same time, in any of the run's processes
  (a found port is another one every run: only tests that overlapped clash);
- for a process-wide change (an environment variable, the working directory):
  the other ran beside it in its process, whatever it touched, since any code
  may read it. A touch made while the test held the others still (``_engine/isolation.py``)
conflicts with nothing: nothing ran beside it.

Worked example::

    a: writes file data/cache.db, runs 0.0-0.3 on gw0
    b: reads  file data/cache.db, runs 0.1-0.2 on gw0
    c: reads  file data/cache.db, runs 0.4-0.5 on gw1     (after a ended)
    -> Conflict(file data/cache.db, writers [a], readers [b, c])
    -> a: resource("file:data/cache.db", exclusive=True); b, c: resource("file:data/cache.db")

Keys keep the tests apart wherever they run: tests sharing a key go to one
worker, where an exclusive holder overlaps no other holder. A process-wide
change (an environment variable, the working directory) cannot be scoped by a
key: its tests get ``serial``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

FILE = "file"
LISTING = "listing"
"""A directory's entries: changed by making, removing or renaming one, read by
``os.listdir``/``scandir``. Two tests that each add their own file to one
directory do not conflict; one that lists it conflicts with them."""
PORT = "port"
FOUND_PORT = "found port"
"""A port a test found by binding to port 0 (``_engine/ports.py``): not a conflict
by itself, it names a conflict on that port *find, then bind*."""
ENV = "env"
CWD = "cwd"
SUBPROCESS = "subprocess"
PROCESS_WIDE_KINDS = frozenset({ENV, CWD})
"""Kinds no resource key can scope: the tests changing them get ``serial``."""
CONFLICTING_KINDS = frozenset({FILE, LISTING, PORT, ENV, CWD})
"""Kinds that conflict (a subprocess is listed, not a conflict by itself)."""


@dataclass(frozen=True)
class Touch:
    """``test`` touched ``kind`` ``target`` (``changed``: wrote, bound, set)."""

    test: str
    kind: str
    target: str
    changed: bool
    where: str = ""
    """The first frame in the suite's own code: ``tests/test_x.py:12``."""
    isolated: bool = False
    """Made while the test held the others still: seen by no other test."""


@dataclass(frozen=True)
class Interval:
    test: str
    process: str
    start: float
    end: float


@dataclass
class Conflict:
    kind: str
    target: str
    changers: dict[str, str] = field(default_factory=dict)
    """test -> where it changed the thing."""
    readers: dict[str, str] = field(default_factory=dict)
    """test -> where it read it (and did not change it)."""
    pairs: set[tuple[str, str]] = field(default_factory=set)
    """Each two tests that clash on the thing (sorted), one of them changing it."""
    found_by: dict[str, str] = field(default_factory=dict)
    """For a port: the tests of the conflict that found it with a bind to port 0,
    then bound it again (find, then bind), and where. No key keeps such tests
    apart: the port is another on every run."""

    @property
    def found_then_bound(self) -> bool:
        return bool(self.found_by)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.target}"

    @property
    def process_wide(self) -> bool:
        return self.kind in PROCESS_WIDE_KINDS

    def tests(self) -> list[str]:
        return sorted({test for pair in self.pairs for test in pair})


@dataclass(frozen=True)
class Declaration:
    """What to declare on one test: a key (exclusive or shared), or ``serial``."""

    test: str
    key: str | None
    exclusive: bool = False

    def mark(self) -> str:
        if self.key is None:
            return "@pytest.mark.serial"
        exclusive = ", exclusive=True" if self.exclusive else ""
        return f"@pytest.mark.resource({self.key!r}{exclusive})"


MACHINE_WIDE_KINDS = frozenset({FILE, LISTING, PORT})
"""Kinds every process of the machine shares: tests on two workers conflict too."""
SHARED_WHENEVER_KINDS = frozenset({FILE, LISTING})
"""Kinds whose tests conflict whether or not they overlapped in this run: a path
names the same file in every run (a port bound to a fixed number too, but one
found with a bind to port 0 differs every run, and both are kinds ``PORT``)."""


def _overlapping(
    intervals: Iterable[Interval], *, per_process: bool = True
) -> set[tuple[str, str]]:
    """Pairs of tests (sorted) that ran at the same time (in one process, or in any)."""
    by_process: dict[str, list[Interval]] = defaultdict(list)
    for interval in intervals:
        by_process[interval.process if per_process else ""].append(interval)
    pairs: set[tuple[str, str]] = set()
    for own in by_process.values():
        own.sort(key=lambda interval: interval.start)
        open_: list[Interval] = []
        for interval in own:
            open_ = [other for other in open_ if other.end > interval.start]
            for other in open_:
                if other.test != interval.test:
                    first, second = sorted((other.test, interval.test))
                    pairs.add((first, second))
            open_.append(interval)
    return pairs


def find_conflicts(touches: Iterable[Touch], intervals: Iterable[Interval]) -> list[Conflict]:
    """The conflicts between overlapping tests, in a stable order."""
    intervals = list(intervals)
    partners: dict[bool, dict[str, set[str]]] = {}
    for per_process in (True, False):
        own = partners[per_process] = defaultdict(set)
        for a, b in _overlapping(intervals, per_process=per_process):
            own[a].add(b)
            own[b].add(a)
    by_thing: dict[tuple[str, str], list[Touch]] = defaultdict(list)
    found_ports: dict[str, dict[str, str]] = defaultdict(dict)
    for touch in touches:
        if touch.kind == FOUND_PORT:
            found_ports[touch.target][touch.test] = touch.where
        elif touch.kind in CONFLICTING_KINDS and not touch.isolated:
            by_thing[touch.kind, touch.target].append(touch)
    conflicts: list[Conflict] = []
    for (kind, target), found in sorted(by_thing.items()):
        changers = {t.test: t.where for t in found if t.changed}
        if not changers:
            continue  # only read: no conflict
        readers = {t.test: t.where for t in found if not t.changed and t.test not in changers}
        touched = set(changers) | set(readers)
        process_wide = kind in PROCESS_WIDE_KINDS  # any test beside it may read it
        beside = partners[kind not in MACHINE_WIDE_KINDS]
        if kind == LISTING:  # only a reader of the listing minds its changes
            touched = set(readers)
        if kind in SHARED_WHENEVER_KINDS:  # not only when they happened to overlap
            pairs = {tuple(sorted((t, o))) for t in changers for o in touched if o != t}
        else:
            pairs = {
                tuple(sorted((test, other)))
                for test in changers
                for other in (beside[test] if process_wide else beside[test] & touched)
            }
        if pairs:
            conflict = Conflict(kind, target, changers, readers)
            conflict.pairs = {(a, b) for a, b in pairs}
            if kind == PORT:
                involved = {test for pair in pairs for test in pair}
                conflict.found_by = {
                    test: where
                    for test, where in sorted(found_ports.get(target, {}).items())
                    if test in involved
                }
            conflicts.append(conflict)
    return conflicts


def declarations(
    conflicts: Sequence[Conflict], unexplained: Iterable[str] = ()
) -> list[Declaration]:
    """For each test in a conflict, what removes it: an exclusive key for those that
    change the thing, a shared one for those that read it, ``serial`` where no key
    can scope it; and ``serial`` for each ``unexplained`` test (it failed only when
    overlapped, and no conflict names it: what it shares cannot be seen). One per
    test and key, sorted. A port found then bound gets none: its key would name
    this run's port (the doctor says how to bind instead)."""
    found: dict[tuple[str, str | None], Declaration] = {}
    named = {test for conflict in conflicts for test in conflict.tests()}
    for test in unexplained:
        if test not in named:
            found[test, None] = Declaration(test, None)
    for conflict in conflicts:
        if conflict.found_then_bound:
            continue
        involved = set(conflict.tests())
        for test in sorted(involved):
            if conflict.process_wide:
                if test in conflict.changers:
                    found[test, None] = Declaration(test, None)
                continue
            exclusive = test in conflict.changers
            previous = found.get((test, conflict.key))
            if previous is None or (exclusive and not previous.exclusive):
                found[test, conflict.key] = Declaration(test, conflict.key, exclusive)
    return sorted(found.values(), key=lambda d: (d.test, d.key or ""))


def conftest_snippet(found: Sequence[Declaration]) -> str:
    """A ``conftest.py`` fragment that applies every declaration at once."""
    keys: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    serial: list[str] = []
    for declaration in found:
        if declaration.key is None:
            serial.append(declaration.test)
        else:
            keys[declaration.test].append((declaration.key, declaration.exclusive))
    lines = [
        "# Declarations suggested by pytest-asyncgroup's doctor (--asyncgroup-doctor).",
        "import pytest",
        "",
        "_ASYNCGROUP_KEYS = {",
        *(f"    {test!r}: {entries!r}," for test, entries in sorted(keys.items())),
        "}",
        "_ASYNCGROUP_SERIAL = {",
        *(f"    {test!r}," for test in sorted(serial)),
        "}",
        "",
        "",
        "def pytest_collection_modifyitems(items):",
        "    for item in items:",
        "        for key, exclusive in _ASYNCGROUP_KEYS.get(item.nodeid, ()):",
        "            item.add_marker(pytest.mark.resource(key, exclusive=exclusive))",
        "        if item.nodeid in _ASYNCGROUP_SERIAL:",
        "            item.add_marker(pytest.mark.serial)",
    ]
    return "\n".join(lines) + "\n"


def overlapped_by(test: str, intervals: Iterable[Interval]) -> list[str]:
    """The tests that ran at the same time as ``test``, in any process."""
    pairs = _overlapping(intervals, per_process=False)
    return sorted(b if a == test else a for a, b in pairs if test in (a, b))


def shared_with(
    test: str, others: Iterable[str], touches: Mapping[str, Sequence[Touch]]
) -> list[str]:
    """What ``test`` and any of ``others`` both touched, one changing it: ``file x``."""
    own = {(t.kind, t.target): t.changed for t in touches.get(test, ()) if not t.isolated}
    shared = {
        f"{kind} {target} (its own)"
        for (kind, target), changed in own.items()
        if changed and kind in PROCESS_WIDE_KINDS
    }
    for other in others:
        for touch in touches.get(other, ()):
            if touch.isolated or touch.kind not in CONFLICTING_KINDS:
                continue
            mine = own.get((touch.kind, touch.target))
            if touch.changed and touch.kind in PROCESS_WIDE_KINDS:
                shared.add(f"{touch.kind} {touch.target} (set by {other})")
            elif mine is not None and (mine or touch.changed):
                shared.add(f"{touch.kind} {touch.target}")
    return sorted(shared)
