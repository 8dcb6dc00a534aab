"""Reading each selected test's declaration at collection time (pytest side of ``_markers``)."""

from __future__ import annotations

import pytest

from .. import _compat
from .._core.keys import NO_RESOURCES, Declaration
from .._core.markers import DeclarationError, parse_declaration, parse_timeout
from .._core.settings import Settings
from .loop_factory import choose_loop_factory

DECLARATION = pytest.StashKey[Declaration]()
TIMEOUT = pytest.StashKey[float]()
"""A test's ``@pytest.mark.timeout`` seconds, when it has one."""


def declare_all(items: list[pytest.Item]) -> list[str]:
    """Store every test's declaration; return one line per problem (nothing may run).

    A test with no ``resource``/``serial`` mark and no keys from the hook stores
    nothing: :func:`declaration_of` gives it the empty declaration.
    """
    problems: list[str] = []
    hook_implemented = bool(items) and bool(
        items[0].config.hook.pytest_asyncgroup_resources.get_hookimpls()
    )
    for item in items:
        try:
            hook_keys = (
                [
                    key
                    for keys in item.ihook.pytest_asyncgroup_resources(item=item)
                    if keys is not None
                    for key in _as_keys(keys)
                ]
                if hook_implemented
                else []
            )
            # One walk over the test's marks (closest first), not one per name.
            resource_marks: list[pytest.Mark] = []
            serial_marks: list[pytest.Mark] = []
            timeout_mark: pytest.Mark | None = None
            for mark in item.iter_markers():
                name = mark.name
                if name == "resource":
                    resource_marks.append(mark)
                elif name == "serial":
                    serial_marks.append(mark)
                elif name == "timeout" and timeout_mark is None:
                    timeout_mark = mark
            if resource_marks or serial_marks or hook_keys:
                item.stash[DECLARATION] = parse_declaration(resource_marks, serial_marks, hook_keys)
            seconds = parse_timeout(timeout_mark)
            if seconds is not None:
                item.stash[TIMEOUT] = seconds
        except DeclarationError as exc:
            problems.append(f"{item.nodeid}: {exc}")
    problems.extend(choose_loop_factory(items))
    problems.extend(_loop_policy_overrides(items))
    return problems


def _loop_policy_overrides(items: list[pytest.Item]) -> list[str]:
    """One problem per overriding ``event_loop_policy`` fixture that async tests get
    (pytest-asyncio would run them on loops of that policy)."""
    if not items or not items[0].config.pluginmanager.has_plugin("asyncio"):
        return []
    users: dict[str, list[str]] = {}
    for item in items:
        where = _compat.loop_policy_override(item)
        if where is not None:
            users.setdefault(where, []).append(item.nodeid)
    return [
        f"{_and_more(nodeids)}: the event_loop_policy fixture in {where} asks for loops "
        "of its own policy, but pytest-asyncgroup runs every async test on its worker's "
        "one loop, made with the policy in force when the run starts. Set the policy "
        "when conftest.py is imported instead (asyncio.set_event_loop_policy(...)), "
        "return one loop factory from a pytest_asyncio_loop_factories hook "
        "(pytest-asyncio 1.4+), or run these tests without --dist=asyncgroup"
        for where, nodeids in users.items()
    ]


def _and_more(nodeids: list[str]) -> str:
    return nodeids[0] + (f" and {len(nodeids) - 1} more" if len(nodeids) > 1 else "")


def declarations_error(problems: list[str]) -> pytest.UsageError:
    """The error that stops the run before anything runs, naming each test."""
    return pytest.UsageError(
        "pytest-asyncgroup: problems found at collection, nothing was run:\n  "
        + "\n  ".join(problems)
    )


def declaration_of(item: pytest.Item) -> Declaration:
    return item.stash.get(DECLARATION, NO_RESOURCES)


def _as_keys(keys: object) -> list[object]:
    if isinstance(keys, str) or not hasattr(keys, "__iter__"):
        raise DeclarationError(
            f"pytest_asyncgroup_resources hook: expected an iterable of keys, got {keys!r}"
        )
    return list(keys)


def timeout_of(item: pytest.Item, settings: Settings) -> float | None:
    """Seconds after which ``item`` is cancelled: its mark, else ``--timeout``; None: never."""
    seconds = item.stash.get(TIMEOUT, settings.timeout)
    return seconds if seconds else None
