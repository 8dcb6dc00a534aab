"""The worker's loop from pytest-asyncio's loop factories (uvloop's, say).

pytest-asyncio 1.4+ makes each async test's loop with a factory that its
``pytest_asyncio_loop_factories`` hook returns, narrowed by
``@pytest.mark.asyncio(loop_factories=[...])``; with several, it runs the test
once per factory (``test_x[asyncio]``, ``test_x[uvloop]``). Here a worker has one
loop for the whole session, made before its first test, so at collection the
selected tests must agree on one factory:

- every async test of pytest-asyncio's asks for the same one: the worker's loop
  is made with it (:func:`loop_factory_of`); sync tests, and async tests that
  pytest-asyncio would skip (a factory the hook does not offer), run on it too;
- none asks: the loop comes from the policy in force, as without the hook;
- otherwise the run stops, naming the tests: a test run once per factory (all
  its variants selected), or tests that ask for different factories (or some
  for a factory and some, which the hook does not apply to, for
  pytest-asyncio's default loop).

For example, with a conftest hook returning ``{"asyncio": asyncio.new_event_loop,
"uvloop": uvloop.new_event_loop}``, ``-k uvloop`` selects only the uvloop
variants and they run on a uvloop loop; without ``-k`` both variants of every
test are selected, and the run is refused.

Factories are compared as objects, except that a function the hook makes anew
for each test (a lambda, a closure) is the same factory when its code and what
it captures are.
"""

from __future__ import annotations

import types
from collections.abc import Callable

import pytest

from .. import _compat

LOOP_FACTORY = pytest.StashKey[_compat.LoopFactory]()


def loop_factory_of(config: pytest.Config) -> _compat.LoopFactory | None:
    """The factory the worker's loop is made with (None: the policy's loop)."""
    return config.stash.get(LOOP_FACTORY, None)


def choose_loop_factory(items: list[pytest.Item]) -> list[str]:
    """Store the factory the selected ``items`` agree on; return the problems
    (one line each, naming the tests) when they do not."""
    if not items or not _compat.loop_factories_hooked(items[0].config):
        return []
    askers: dict[object, list[pytest.Item]] = {}
    on_default: list[pytest.Item] = []
    for item in items:
        asked = _compat.loop_factory_asked(item)
        if asked is None:
            continue
        if isinstance(asked, str):  # DEFAULT_LOOP
            on_default.append(item)
        else:
            askers.setdefault(_identity(asked), []).append(item)
    if not askers:
        return []
    if len(askers) == 1 and not on_default:
        (first, *_), *_ = askers.values()
        factory = _compat.loop_factory_asked(first)
        assert callable(factory)
        first.config.stash[LOOP_FACTORY] = factory
        return []
    return _problems(askers, on_default)


def _problems(askers: dict[object, list[pytest.Item]], on_default: list[pytest.Item]) -> list[str]:
    factory_of = {id(item): key for key, items in askers.items() for item in items}
    variants: dict[tuple[str, str], list[pytest.Item]] = {}
    for items in askers.values():
        for item in items:
            variants.setdefault(_function_of(item), []).append(item)
    # Tests run once per factory: every variant of them is in the run.
    several = {
        function: items
        for function, items in variants.items()
        if len({factory_of[id(item)] for item in items}) > 1
    }
    problems: list[str] = []
    if several:
        tests = [item for items in several.values() for item in items]
        names = _names(tests, factory_of)
        problems.append(
            f"{_and_more(tests)}: pytest-asyncio runs these tests once per loop factory "
            f"({', '.join(names)}), from pytest_asyncio_loop_factories, but "
            "pytest-asyncgroup runs all the tests of a worker on one loop, made once "
            "for the session. Have the hook (or @pytest.mark.asyncio(loop_factories=[...])) "
            "name one factory for them, select the variants of one factory "
            "(-k), or run these tests without --dist=asyncgroup"
        )
    camps: dict[object, list[pytest.Item]] = {}
    for key, items in askers.items():
        rest = [item for item in items if _function_of(item) not in several]
        if rest:
            camps[key] = rest
    if len(camps) + bool(on_default) > 1:
        asking = [
            f"{_names(items, factory_of)[0]} ({_and_more(items)})" for items in camps.values()
        ]
        if on_default:
            asking.append(
                f"pytest-asyncio's default loop ({_and_more(on_default)}: the hook "
                "does not apply to them)"
            )
        problems.append(
            "the tests ask for different event loops: "
            + "; ".join(asking)
            + ". pytest-asyncgroup makes one loop per worker, for the session and every "
            "test on it: have pytest_asyncio_loop_factories give all of them the same "
            "factory, or run them without --dist=asyncgroup"
        )
    return problems


def _identity(factory: Callable[[], object]) -> object:
    """What tells factories apart (see the module docstring)."""
    key: object = factory
    if isinstance(factory, types.FunctionType):
        cells = []
        for cell in factory.__closure__ or ():
            try:
                cells.append(id(cell.cell_contents))
            except ValueError:  # an empty cell
                cells.append(0)
        key = (factory.__code__, factory.__defaults__, tuple(cells))
    try:
        hash(key)
    except TypeError:
        key = id(factory)
    return key


def _names(items: list[pytest.Item], factory_of: dict[int, object]) -> list[str]:
    """The names the hook gives the factories of ``items``, quoted, in order."""
    names: dict[object, str] = {}
    for item in items:
        key = factory_of[id(item)]
        if key in names:
            continue
        offered = _compat.loop_factory_names(item)
        name = next((n for n, f in offered.items() if _identity(f) == key), None)
        if name is None:
            factory = _compat.loop_factory_asked(item)
            name = getattr(factory, "__qualname__", None) or repr(factory)
        names[key] = repr(name)
    return list(names.values())


def _function_of(item: pytest.Item) -> tuple[str, str]:
    parent = item.parent.nodeid if item.parent is not None else ""
    return parent, getattr(item, "originalname", item.name)


def _and_more(items: list[pytest.Item]) -> str:
    return items[0].nodeid + (f" and {len(items) - 1} more" if len(items) > 1 else "")
