"""Random test suites, run plainly and under ``--dist=asyncgroup``, compared.

A suite is generated from a seed: 2-5 modules in 1-2 packages (each with its own
``conftest.py``) and maybe one top-level module; fixtures of every scope (sync
and async, return and yield, with and without params, autouse, overrides in a
package's ``conftest.py`` that may request the fixture they override, chains
across scopes); classes; async and sync tests, some parametrized, some failing,
some erroring in setup or teardown; tests that patch (``monkeypatch``,
``mock.patch``, in a task, ``setenv``, a non-callable global, ``patch.dict``)
and modules whose autouse fixture patches.

Every fixture and test records, through the suite's ``conftest.py``, what it
saw: a fixture's value names the fixture, where it is defined, the node pytest
gave it (``request.node.nodeid``) and its parameter, so a test handed another
node's instance sees a different value. Every set-up and tear-down is an event
of its process and node. :func:`compare` then checks, against the plain run:

- each test's outcome per phase, and the fixture values it saw;
- per scope node: the instances set up (fixture, parameter, what each saw of its
  own dependencies) and their order of set-up and tear-down. In one process, the
  node's sequence of events is plain pytest's; with several workers a node's
  tests may be split, so each worker's sequence for a node is plain pytest's
  restricted to the instances it used, and together they set up every instance
  the plain run did;
- that each instance a test saw was set up before the test ran and torn down
  after it, in the process it ran in.
"""

from __future__ import annotations

import dataclasses
import json
import random
import textwrap
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

SCOPES = ("session", "package", "module", "class", "function")
"""Widest first: a fixture may depend only on fixtures of its scope or wider."""


def _wider_or_same(scope: str, other: str) -> bool:
    return SCOPES.index(other) <= SCOPES.index(scope)


RECORDER = """
import asyncio, json, os, re

import pytest

EVENTS = os.environ["FIDELITY_EVENTS"]


def rec(kind, **data):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    line = json.dumps({"kind": kind, "process": f"{worker}:{os.getpid()}", **data})
    with open(os.path.join(EVENTS, f"{os.getpid()}.jsonl"), "a") as fh:
        fh.write(line + "\\n")


def value_of(name, where, request):
    param = getattr(request, "param", None)
    return f"{name}/{where}@{request.node.nodeid}#{param}"


def views():  # what the test sees of the names some tests patch (TARGET)
    import target

    return {
        "greet": target.greet(),
        "hello": target.Greeter().hello(),
        "make": type(target.Greeter.make()).__name__,
        "level": target.LEVEL,
        "env": os.environ.get("FIDELITY_PATCH"),
    }


def pytest_sessionfinish(session):
    import target

    originals = (vars(target)["greet"], vars(target.Greeter)["hello"], target.LEVEL)
    rec("restored", ok=[type(originals[0]).__name__, type(originals[1]).__name__,
        originals[2], os.environ.get("FIDELITY_PATCH")])


def pytest_runtest_logreport(report):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller records outcomes, once
    failing = []
    if report.when != "call" and report.failed:
        found = re.findall(r"RuntimeError: teardown of (\\S+)", str(report.longrepr))
        failing = sorted(set(found))
    rec("report", test=report.nodeid, when=report.when, outcome=report.outcome, failing=failing)
"""


TARGET = """
LEVEL = "real"


def greet():
    return "real"


class Greeter:
    def hello(self):
        return "real"

    @classmethod
    def make(cls):
        return cls()
"""
"""What tests patch, each with a value naming the test (``Test.patch``)."""

PATCHES: dict[str, tuple[str, ...]] = {
    "monkeypatch function": ("monkeypatch.setattr(target, 'greet', lambda: mine)",),
    "mock.patch function": (
        "patcher = mock.patch('target.greet', return_value=mine)",
        "patcher.start()",
        "request.addfinalizer(patcher.stop)",
    ),
    "monkeypatch method": ("monkeypatch.setattr(target.Greeter, 'hello', lambda self: mine)",),
    "autospec method": (
        "patcher = mock.patch.object(target.Greeter, 'hello', autospec=True, return_value=mine)",
        "patcher.start()",
        "request.addfinalizer(patcher.stop)",
    ),
    "classmethod": ("monkeypatch.setattr(target.Greeter, 'make', classmethod(lambda cls: mine))",),
    "in a task": (
        "async def patch():",
        "    monkeypatch.setattr(target, 'greet', lambda: mine)",
        "await asyncio.get_running_loop().create_task(patch())",
    ),
    "setenv": ("monkeypatch.setenv('FIDELITY_PATCH', mine)",),
    "non-callable global": ("monkeypatch.setattr(target, 'LEVEL', mine)",),
    "patch.dict": (
        "patcher = mock.patch.dict(os.environ, {'FIDELITY_PATCH': mine})",
        "patcher.start()",
        "request.addfinalizer(patcher.stop)",
    ),
}

MODULE_PATCH = """
@pytest.fixture(autouse=True)
def patched_in_this_module(monkeypatch, request):
    monkeypatch.setattr(target, "greet", lambda: "module " + request.module.__name__)
"""


@dataclasses.dataclass
class Fixture:
    name: str
    scope: str
    where: str  # "root", "pkg0", "pkg0/test_m1", "pkg0/test_m1::TestC0"
    is_async: bool
    yields: bool
    params: tuple[int, ...] | None
    autouse: bool
    deps: tuple[str, ...]
    fails: str | None  # "setup", "teardown" or None
    sleep: float

    def source(self, indent: str = "") -> str:
        args = ", ".join(("request", *self.deps))
        decorator = f"@pytest.fixture(scope={self.scope!r}"
        if self.params is not None:
            decorator += f", params={list(self.params)!r}"
        if self.autouse:
            decorator += ", autouse=True"
        decorator += ")"
        sleep = f"await asyncio.sleep({self.sleep})" if self.is_async else "pass"
        seen = "{" + ", ".join(f"{dep!r}: {dep}" for dep in self.deps) + "}"
        lines = [
            decorator,
            f"{'async ' if self.is_async else ''}def {self.name}({args}):",
            f"    value = value_of({self.name!r}, {self.where!r}, request)",
            f"    {sleep}",
        ]
        if self.fails == "setup":
            lines.append("    raise RuntimeError('setup of ' + value)")
        lines.append(
            f"    rec('setup', fixture={self.name!r}, where={self.where!r}, "
            f"node=request.node.nodeid, value=value, deps={seen})"
        )
        if self.yields:
            lines += [
                "    yield value",
                f"    {sleep}",
                f"    rec('teardown', fixture={self.name!r}, where={self.where!r}, "
                "node=request.node.nodeid, value=value)",
            ]
            if self.fails == "teardown":
                lines.append("    raise RuntimeError('teardown of ' + value)")
        else:
            lines.append("    return value")
        return textwrap.indent("\n".join(lines), indent) + "\n"


@dataclasses.dataclass
class Test:
    name: str
    is_async: bool
    uses: tuple[str, ...]
    params: int  # 0: not parametrized
    fails: bool
    sleep: float
    patch: str | None = None
    """A key of ``PATCHES``: what the test patches before it sleeps."""

    def source(self, indent: str = "", *, method: bool = False) -> str:
        args = ", ".join(
            (
                *(["self"] if method else []),
                "request",
                *self.uses,
                *(["monkeypatch"] if self.patch else []),
                *(["p"] if self.params else []),
            )
        )
        lines = []
        if self.params:
            lines.append(f"@pytest.mark.parametrize('p', range({self.params}))")
        seen = "{" + ", ".join(f"{name!r}: {name}" for name in self.uses) + "}"
        lines.append(f"{'async ' if self.is_async else ''}def {self.name}({args}):")
        if self.patch:
            lines.append("    mine = request.node.nodeid")
            lines += [f"    {line}" for line in PATCHES[self.patch]]
        lines += [
            f"    {'await asyncio.sleep(' + str(self.sleep) + ')' if self.is_async else 'pass'}",
            f"    rec('test', test=request.node.nodeid, seen={seen}, views=views())",
        ]
        if self.fails:
            lines.append("    assert False, 'fails on purpose'")
        return textwrap.indent("\n".join(lines), indent) + "\n"


class _Generator:
    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        # Patches draw from a stream of their own: each seed's suite keeps the
        # shape it had before they were added.
        self.patches = random.Random(seed * 7919 + 1)
        self.counter = 0

    def _name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def fixture(
        self, scope: str, where: str, visible: dict[str, Fixture], *, name: str | None = None
    ) -> Fixture:
        r = self.random
        candidates = [f for f in visible.values() if _wider_or_same(scope, f.scope)]
        deps = tuple(
            sorted({f.name for f in r.sample(candidates, min(len(candidates), r.randint(0, 2)))})
        )
        if name is not None and name in visible and not _wider_or_same(scope, visible[name].scope):
            deps = tuple(d for d in deps if d != name)
        return Fixture(
            name=name or self._name(f"{scope[0]}fx"),
            scope=scope,
            where=where,
            is_async=r.random() < 0.6,
            yields=r.random() < 0.7,
            params=(0, 1) if scope != "session" and r.random() < 0.15 else None,
            autouse=r.random() < 0.15,
            deps=deps,
            fails=r.choices([None, "setup", "teardown"], [0.9, 0.05, 0.05])[0],
            sleep=r.choice([0, 0.001, 0.005, 0.01]),
        )

    def patch(self, is_async: bool) -> str | None:
        if self.patches.random() >= 0.4:
            return None
        kinds = [k for k in PATCHES if is_async or k != "in a task"]
        return self.patches.choice(kinds)

    def tests(self, visible: dict[str, Fixture], count: int) -> list[Test]:
        r = self.random
        names = sorted(visible)
        tests = [
            Test(
                name=self._name("test_"),
                is_async=r.random() < 0.75,
                uses=tuple(sorted(set(r.sample(names, min(len(names), r.randint(0, 3)))))),
                params=r.choice([0, 0, 0, 2, 3]),
                fails=r.random() < 0.08,
                sleep=r.choice([0, 0.002, 0.01, 0.02]),
            )
            for _ in range(count)
        ]
        for test in tests:
            test.patch = self.patch(test.is_async)
        return tests


def generate(seed: int) -> dict[str, str]:
    """The files of suite ``seed``: relative path -> source."""
    gen = _Generator(seed)
    r = gen.random
    files: dict[str, str] = {}
    header = (
        "import asyncio, os\nfrom unittest import mock\nimport pytest\nimport target\n"
        "from conftest import rec, value_of, views\n\n"
    )

    root: dict[str, Fixture] = {}
    for scope in ("session", "session", "package", "module", "module", "class", "function"):
        fixture = gen.fixture(scope, "root", root)
        root[fixture.name] = fixture
    files["conftest.py"] = RECORDER + "\n" + "\n".join(f.source() for f in root.values())

    packages = [f"pkg{i}" for i in range(r.randint(1, 2))]
    modules = [f"{r.choice(packages)}/test_m{i}" for i in range(r.randint(2, 5))]
    if r.random() < 0.5:
        modules.append("test_top")
    of_package: dict[str, dict[str, Fixture]] = {}
    for package in packages:
        visible = dict(root)
        own: list[Fixture] = []
        for scope in ("package", "module", "class"):
            own.append(gen.fixture(scope, package, visible))
            visible[own[-1].name] = own[-1]
        overridden = r.choice(sorted(root))
        own.append(gen.fixture(root[overridden].scope, package, visible | root, name=overridden))
        of_package[package] = {f.name: f for f in own}
        files[f"{package}/__init__.py"] = ""
        files[f"{package}/conftest.py"] = header + "\n".join(f.source() for f in own)
    for module in modules:
        package = module.split("/")[0] if "/" in module else None
        visible = dict(root)
        if package:
            visible.update(of_package[package])
        parts = [header]
        if gen.patches.random() < 0.25:
            parts.append(MODULE_PATCH)
        for scope in r.sample(["module", "class", "function"], 2):
            fixture = gen.fixture(scope, module, visible)
            visible[fixture.name] = fixture
            parts.append(fixture.source())
        parts += [t.source() for t in gen.tests(visible, r.randint(1, 4))]
        for _ in range(r.randint(0, 2)):
            cls = gen._name("TestC")
            parts.append(f"class {cls}:\n")
            in_class = dict(visible)
            if r.random() < 0.5:
                fixture = gen.fixture("class", f"{module}::{cls}", in_class)
                in_class[fixture.name] = fixture
                parts.append(fixture.source("    ").replace("(request", "(self, request", 1))
            parts += [t.source("    ", method=True) for t in gen.tests(in_class, r.randint(1, 3))]
        files[f"{module}.py"] = "\n".join(parts)
    files["target.py"] = TARGET
    files["pytest.ini"] = textwrap.dedent(
        """\
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = session
        asyncio_default_test_loop_scope = session
        filterwarnings = ignore::pytest.PytestConfigWarning
        """
    )
    return files


# --- reading and comparing runs -----------------------------------------------------


@dataclasses.dataclass
class Run:
    outcomes: dict[tuple[str, str], str]
    """(test, phase) -> outcome."""
    failing: dict[tuple[str, str], set[str]]
    """(test, phase) -> the fixture instances whose teardown failed in that phase
    (a parameter change tears the previous instance down in a test's setup)."""
    order: list[str]
    """The tests, in the order their first report came."""
    seen: dict[str, dict[str, str]]
    views: dict[str, dict[str, str]]
    """What each test saw of the names tests patch (``TARGET``)."""
    by_process: dict[str, list[dict[str, object]]]


def read_run(directory: Path) -> Run:
    run = Run({}, defaultdict(set), [], {}, {}, defaultdict(list))
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            event = json.loads(line)
            if event["kind"] == "report":
                key = (event["test"], event["when"])
                run.outcomes[key] = event["outcome"]
                run.failing[key].update(event["failing"])
                if event["when"] == "setup":
                    run.order.append(event["test"])
                continue
            run.by_process[event["process"]].append(event)
            if event["kind"] == "test":
                run.seen[event["test"]] = event["seen"]
                run.views[event["test"]] = event["views"]
    return run


def _node_of(value: str) -> str:
    return value.split("@", 1)[1].rsplit("#", 1)[0]


@dataclasses.dataclass(frozen=True)
class _Life:
    """One fixture instance's set-up and tear-down, as positions in its node's events."""

    value: str
    deps: frozenset[str]
    setup: int
    teardown: float
    """inf: no tear-down recorded (a fixture that returns): it says nothing of the order."""


def _lives(sequence: list[dict[str, object]]) -> list[_Life]:
    lives: list[_Life] = []
    open_: dict[str, tuple[int, frozenset[str]]] = {}
    for position, event in enumerate(sequence):
        value = str(event["value"])
        if event["kind"] == "setup":
            if value in open_:  # set up again without a tear-down: a fixture that returns
                lives.append(_Life(value, open_[value][1], open_[value][0], float("inf")))
            deps = frozenset(dict(event.get("deps", {})).values())  # type: ignore[call-overload]
            open_[value] = (position, deps)
        else:
            setup, deps = open_.pop(value)
            lives.append(_Life(value, deps, setup, position))
    lives += [_Life(value, deps, setup, float("inf")) for value, (setup, deps) in open_.items()]
    return sorted(lives, key=lambda life: life.setup)


def _relation(a: _Life, b: _Life) -> str:
    """How two lives of one node lie: ``a`` first or not, and nested, apart or crossing."""
    first, second = (a, b) if a.setup < b.setup else (b, a)
    if first.teardown < second.setup:
        shape = "apart"
    elif second.teardown <= first.teardown:
        shape = "nested"
    else:
        shape = "crossing"
    return shape


def _node_events(run: Run) -> dict[tuple[str, str], list[dict[str, object]]]:
    sequences: dict[tuple[str, str], list[dict[str, object]]] = defaultdict(list)
    for process, events in run.by_process.items():
        for event in events:
            if event["kind"] in ("setup", "teardown"):
                sequences[(process, str(event["node"]))].append(event)
    return sequences


def _order_problems(where: str, ours: list[_Life], plain: list[_Life]) -> list[str]:
    """Differences in how a node's instances were set up and torn down.

    The same instances, each seeing the same dependencies; a dependency set up
    before and torn down after what depends on it; and two instances that plain
    pytest nests (LIFO, the finalizer stack) nested here too. The order in which
    two independent instances are set up may differ (the first overlapping test
    to reach a fixture sets it up), and with it how a parameter change's
    tear-down falls between them.
    """
    problems: list[str] = []
    if [(life.value, life.deps) for life in ours] != [
        (life.value, life.deps) for life in plain
    ] and sorted((life.value, sorted(life.deps)) for life in ours) != sorted(
        (life.value, sorted(life.deps)) for life in plain
    ):
        problems.append(
            f"{where}: instances {[(life.value, sorted(life.deps)) for life in ours]}, "
            f"plain: {[(life.value, sorted(life.deps)) for life in plain]}"
        )
        return problems
    plain_by_value: dict[str, list[_Life]] = defaultdict(list)
    for life in plain:
        plain_by_value[life.value].append(life)
    ours_by_value: dict[str, list[_Life]] = defaultdict(list)
    for life in ours:
        ours_by_value[life.value].append(life)
    pairs = [
        (a, b, pa, pb)
        for value_a, lives_a in ours_by_value.items()
        for value_b, lives_b in ours_by_value.items()
        if value_a < value_b
        for a, pa in zip(lives_a, plain_by_value[value_a], strict=True)
        for b, pb in zip(lives_b, plain_by_value[value_b], strict=True)
    ]
    for a, b, pa, pb in pairs:
        finite = float("inf") not in (a.teardown, b.teardown, pa.teardown, pb.teardown)
        if finite and _relation(pa, pb) == "nested" and _relation(a, b) != "nested":
            problems.append(
                f"{where}: {a.value} and {b.value} {_relation(a, b)}, plain: {_relation(pa, pb)}"
            )
    return problems


def _dependency_problems(where: str, lives: list[_Life]) -> list[str]:
    """A fixture set up after, and torn down before, each instance it depends on."""
    problems = []
    by_value: dict[str, list[_Life]] = defaultdict(list)
    for life in lives:
        by_value[life.value].append(life)
    for life in lives:
        for dep in life.deps:
            earlier = [d for d in by_value.get(dep, ()) if d.setup < life.setup]
            if not earlier:
                continue  # wider than this node: checked on its own node
            if life.teardown != float("inf") and life.teardown > earlier[-1].teardown:
                problems.append(f"{where}: {life.value} outlived its dependency {dep}")
    return problems


def compare(plain: Run, ours: Run, *, one_process: bool) -> list[str]:
    """The differences of ``ours`` from ``plain``, as sentences (none: faithful).

    Where plain pytest itself is not the measure, a difference is allowed:

    - A class/module/package instance's teardown error is reported in the
      teardown of the last test of that node to *finish*, which under overlap
      need not be the last in collection order: such errors are compared per
      node, not per test.
    - Where pytest's order (grouped by a parametrized wider fixture) splits a
      node's tests into runs that are not adjacent, plain pytest sets the node's
      fixtures up again for each run; here they stay set up while the node has
      tests to come and nothing they depend on changes. Such nodes are compared
      by the instances they set up, not by how often.
    - With several workers, a node's tests may be split between them: each
      worker sets up what it uses (as ``--dist load`` does), and an instance
      torn down by a parameter change fails the setup of whichever test of that
      worker changes it. When an idle worker takes the tests of a node that
      another worker has started, that worker tears the node down in the
      teardown of its next test to leave, which may be of another node.
    """
    problems: list[str] = []
    shifted = _shifted_setups(plain, ours) if not one_process else set()
    for key in sorted(set(plain.outcomes) | set(ours.outcomes)):
        test, when = key
        if test in shifted or (when == "teardown" and not _own(test, plain, ours, when)):
            continue
        if plain.outcomes.get(key) != ours.outcomes.get(key):
            problems.append(
                f"{test} ({when}): {ours.outcomes.get(key)}, plain: {plain.outcomes.get(key)}"
            )
    # Where a worker's parameter change failed a setup, what that worker set up
    # of the node afterwards depends on its share of the tests.
    disturbed = {node for test in shifted for node in _parents(test)}
    split = _split_nodes(plain.order)
    problems += _wider_errors(
        plain, ours, one_process=one_process, disturbed=disturbed, split=split
    )
    for test in sorted(set(plain.seen) | set(ours.seen)):
        if test not in shifted and plain.seen.get(test) != ours.seen.get(test):
            problems.append(f"{test} saw {ours.seen.get(test)}, plain: {plain.seen.get(test)}")
        if test not in shifted and plain.views.get(test) != ours.views.get(test):
            problems.append(
                f"{test} saw patched names {ours.views.get(test)}, plain: {plain.views.get(test)}"
            )
    plain_nodes = {node: _lives(events) for (_, node), events in _node_events(plain).items()}
    # With several workers, a worker may get a node's tests in more than one
    # share (and set them up again for each, as ``--dist load`` does).
    by_set = split if one_process else set(plain_nodes) | {node for _, node in _node_events(ours)}
    covered: dict[str, set[str]] = defaultdict(set)
    for (process, node), events in _node_events(ours).items():
        if node in shifted:
            continue
        lives = _lives(events)
        used = {life.value for life in lives}
        covered[node] |= used
        problems += _dependency_problems(f"node {node!r} in {process}", lives)
        expected = [life for life in plain_nodes.get(node, []) if one_process or life.value in used]
        if node in by_set:
            if used != {life.value for life in expected}:
                problems.append(
                    f"node {node!r} in {process}: set up {sorted(used)}, plain: "
                    f"{sorted({life.value for life in expected})}"
                )
            continue
        problems += _order_problems(f"node {node!r} in {process}", lives, expected)
    for node, lives in plain_nodes.items():
        if node in shifted or node in disturbed:
            continue
        missing = {life.value for life in lives} - covered[node]
        if missing:
            problems.append(f"node {node!r}: never set up {sorted(missing)}")
    problems += _lifetimes(ours)
    restored = ["function", "function", "real", None]  # as ``TARGET`` defines them
    for process, events in ours.by_process.items():
        for event in events:
            if event["kind"] == "restored" and event["ok"] != restored:
                problems.append(f"{process}: patched names not restored: {event['ok']}")
    return problems


def _own(test: str, plain: Run, ours: Run, when: str) -> bool:
    """Whether the outcome of ``test``'s phase is its own to compare: no wider
    node's teardown error is reported there, in either run."""
    return not any(
        _node_of(value) != test
        for run in (plain, ours)
        for value in run.failing.get((test, when), ())
    )


def _shifted_setups(plain: Run, ours: Run) -> set[str]:
    """Tests whose setup failed, in one run, only by tearing down a wider instance
    on a parameter change: which test of a worker that is depends on the split."""
    return {
        test
        for run in (plain, ours)
        for (test, when), values in run.failing.items()
        if when == "setup" and values and all(_node_of(value) != test for value in values)
    }


def _wider_errors(
    plain: Run, ours: Run, *, one_process: bool, disturbed: set[str], split: set[str]
) -> list[str]:
    """Teardown errors of class/module/package/session instances: the same ones,
    each reported on a test of its node (in one process, as many times). A split
    node torn down between two batches is torn down by the test ending the first."""
    problems: list[str] = []
    found: dict[str, list[str]] = {}
    for name, run in (("plain", plain), ("ours", ours)):
        values = found[name] = []
        for (test, _), failing in run.failing.items():
            for value in failing:
                node = _node_of(value)
                if node == test or node in disturbed:
                    continue
                values.append(value)
                if one_process and not test.startswith(node) and node not in split:
                    problems.append(f"{name}: {value}'s teardown error was reported on {test}")
    if one_process:
        if sorted(found["ours"]) != sorted(found["plain"]):
            problems.append(
                f"node teardown errors {sorted(found['ours'])}, plain: {sorted(found['plain'])}"
            )
    elif set(found["ours"]) != set(found["plain"]):
        ours_set, plain_set = sorted(set(found["ours"])), sorted(set(found["plain"]))
        problems.append(f"node teardown errors {ours_set}, plain: {plain_set}")
    return problems


def _split_nodes(order: list[str]) -> set[str]:
    """Nodes (class, module, package ids) whose tests are not adjacent in ``order``."""
    runs: dict[str, int] = defaultdict(int)
    previous: set[str] = set()
    for test in order:
        nodes = set(_parents(test))
        for node in nodes - previous:
            runs[node] += 1
        previous = nodes
    return {node for node, count in runs.items() if count > 1}


def _parents(test: str) -> Iterable[str]:
    path, _, rest = test.partition("::")
    parts = path.split("/")
    for i in range(1, len(parts)):
        yield "/".join(parts[:i])  # packages
    yield path
    names = rest.split("::")[:-1]
    for i in range(1, len(names) + 1):
        yield "::".join([path, *names[:i]])


def _lifetimes(run: Run) -> list[str]:
    """Each instance a test saw was live (set up, not yet torn down) when it ran."""
    problems = []
    for process, events in run.by_process.items():
        live: set[str] = set()
        for event in events:
            if event["kind"] == "setup":
                live.add(str(event["value"]))
            elif event["kind"] == "teardown":
                live.discard(str(event["value"]))
            elif event["kind"] == "test":
                for value in dict(event["seen"]).values():  # type: ignore[call-overload]
                    if value not in live:
                        problems.append(f"{event['test']} in {process} saw {value}, not live")
    return problems


def write(directory: Path, files: dict[str, str]) -> None:
    for relative, source in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)


def describe(files: dict[str, str]) -> Iterable[str]:
    for relative, source in sorted(files.items()):
        yield f"--- {relative}\n{source}"
