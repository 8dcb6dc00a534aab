"""Parsing of ``@pytest.mark.resource``, ``serial`` and ``timeout``.

Marker arguments are bound to real Python signatures (the two functions below),
so the documented signature and the parser cannot drift apart. Nothing here
imports pytest: a marker is anything with ``args`` and ``kwargs``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from .keys import Declaration


class MarkLike(Protocol):
    @property
    def args(self) -> tuple[Any, ...]: ...

    @property
    def kwargs(self) -> Mapping[str, Any]: ...


class DeclarationError(ValueError):
    """A test's resource declaration is malformed; the message names the problem."""


def resource(*keys: str, exclusive: bool = False) -> None:
    """resource(*keys, exclusive=False): the test holds these resource keys.

    Tests sharing a key run on the same worker and may overlap (up to the key's
    limit); with ``exclusive=True`` no other holder of the key overlaps this test.
    """


def serial() -> None:
    """serial(): the test runs while no other test runs, on any worker."""


def timeout(
    timeout: float,
    method: str | None = None,
    func_only: bool | None = None,
    disable_debugger_detection: bool | None = None,
) -> None:
    """timeout(seconds): cancel the test (setup, call and teardown) after this long.

    pytest-timeout's marker; its other arguments are accepted and ignored for
    tests that overlap others (their task is cancelled; see the README).
    """


_RESOURCE = inspect.signature(resource)
_SERIAL = inspect.signature(serial)
_TIMEOUT = inspect.signature(timeout)


def seconds(value: object, where: str) -> float:
    """A timeout in seconds (``0`` means none), or an error naming ``where``."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or not number >= 0:
        raise DeclarationError(f"{where}: expected a number of seconds >= 0, got {value!r}")
    return number


def parse_timeout(mark: MarkLike | None) -> float | None:
    """The seconds of a test's closest ``timeout`` mark; None without one."""
    if mark is None:
        return None
    try:
        bound = _TIMEOUT.bind(*mark.args, **mark.kwargs)
    except TypeError as exc:
        raise DeclarationError(f"@pytest.mark.timeout: {exc}") from None
    return seconds(bound.arguments["timeout"], "@pytest.mark.timeout")


def check_key(key: object, where: str) -> str:
    """Return ``key`` if it is a non-empty string, else raise naming ``where``."""
    if not isinstance(key, str) or not key.strip():
        raise DeclarationError(f"{where}: resource key {key!r} is not a non-empty string")
    return key


def parse_declaration(
    resource_marks: Iterable[MarkLike],
    serial_marks: Iterable[MarkLike],
    extra_keys: Iterable[object] = (),
) -> Declaration:
    """Combine every ``resource``/``serial`` mark of a test (they stack) into one value.

    ``extra_keys`` come from the ``pytest_asyncgroup_resources`` hook and are shared.
    """
    shared: set[str] = set()
    exclusive: set[str] = set()
    for mark in resource_marks:
        try:
            bound = _RESOURCE.bind(*mark.args, **mark.kwargs)
        except TypeError as exc:
            raise DeclarationError(f"@pytest.mark.resource: {exc}") from None
        keys = bound.arguments.get("keys", ())
        if not keys:
            raise DeclarationError("@pytest.mark.resource needs at least one key")
        is_exclusive = bound.arguments.get("exclusive", False)
        if not isinstance(is_exclusive, bool):
            raise DeclarationError(
                f"@pytest.mark.resource: exclusive must be True or False, got {is_exclusive!r}"
            )
        checked = {check_key(key, "@pytest.mark.resource") for key in keys}
        (exclusive if is_exclusive else shared).update(checked)
    is_serial = False
    for mark in serial_marks:
        try:
            _SERIAL.bind(*mark.args, **mark.kwargs)
        except TypeError as exc:
            raise DeclarationError(f"@pytest.mark.serial takes no arguments: {exc}") from None
        is_serial = True
    for key in extra_keys:
        shared.add(check_key(key, "pytest_asyncgroup_resources hook"))
    return Declaration(frozenset(shared), frozenset(exclusive), is_serial)
