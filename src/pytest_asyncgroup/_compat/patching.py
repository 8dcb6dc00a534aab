"""The internals of the two patching APIs: pytest's ``MonkeyPatch`` and ``unittest.mock``.

(One module for both, apart from ``pytest.py`` and ``python.py``: they are routed
together, for one mechanism, ``_engine/patches.py``.)

Both set and delete the patched attribute with the builtins ``setattr`` and
``delattr``, looked up as globals of their modules. A global of a module shadows
the builtin, so for the run each module gets its own ``setattr``/``delattr``;
called from one of the patching functions below (its caller's code object), they
route to the engine; from anywhere else in the module (mock's own bookkeeping),
they are the builtins.

Checked on pytest 8.3.5 and 9.2.0 (``_pytest/monkeypatch.py``: ``MonkeyPatch.setattr``,
``delattr`` and ``undo`` call ``setattr``/``delattr``; ``setitem``, ``delitem``,
``chdir`` and ``syspath_prepend`` change process-wide state; ``setenv``/``delenv``
call ``setitem``/``delitem``) and on Python 3.10.13, 3.11.7, 3.12.1 and 3.13.0
(``unittest/mock.py``: ``_patch.__enter__`` and ``_patch.__exit__`` call
``setattr``/``delattr``; ``_patch.get_original`` reads ``target.__dict__[name]``;
``_patch_dict._patch_dict`` changes the dict).
"""

from __future__ import annotations

import builtins
import contextlib
import sys
import unittest.mock
from collections.abc import Callable, Iterator
from types import CodeType
from typing import Any

from _pytest import monkeypatch as _monkeypatch

_MonkeyPatch = _monkeypatch.MonkeyPatch
_patch: Any = unittest.mock._patch
_patch_dict: Any = unittest.mock._patch_dict

_SETTING: frozenset[CodeType] = frozenset(
    {_MonkeyPatch.setattr.__code__, _MonkeyPatch.undo.__code__, _patch.__enter__.__code__}
    | {_patch.__exit__.__code__}
)
"""The patching functions whose ``setattr`` is routed."""
_DELETING = _MonkeyPatch.delattr.__code__
"""``monkeypatch.delattr``: its ``delattr`` deletes (an undo's restores)."""
_RESTORING: frozenset[CodeType] = frozenset({_MonkeyPatch.undo.__code__, _patch.__exit__.__code__})

_PROCESS_WIDE = {
    "setitem": "monkeypatch.setitem",
    "delitem": "monkeypatch.delitem",
    "chdir": "monkeypatch.chdir (the working directory)",
    "syspath_prepend": "monkeypatch.syspath_prepend (sys.path)",
}


def is_mock(value: object) -> bool:
    """A ``unittest.mock`` mock (made by a test; its attributes are its own)."""
    return isinstance(value, unittest.mock.NonCallableMock)


def _describe_dict(dictionary: object) -> str:
    import os

    if dictionary is os.environ:
        return "os.environ"
    if dictionary is sys.modules:
        return "sys.modules"
    return f"a {type(dictionary).__name__}"


@contextlib.contextmanager
def patching_routed(
    *,
    setattr: Callable[[Any, str, Any], None],
    delattr: Callable[..., None],
    original: Callable[[Any], Any],
    is_stand_in: Callable[[Any], bool],
    absent: object,
    not_per_test: Callable[[str], None],
) -> Iterator[None]:
    """Route the patching APIs' ``setattr``/``delattr`` to ``setattr(target, name,
    value)`` and ``delattr(target, name, restoring=...)``; ``mock.patch`` reads
    through a stand-in (``original(stand_in)``, ``absent``: the class's); and
    ``not_per_test(what)`` hears of each change that is process-wide."""
    builtin_setattr, builtin_delattr = builtins.setattr, builtins.delattr

    def routed_setattr(target: Any, name: str, value: Any) -> None:
        __tracebackhide__ = True
        if sys._getframe(1).f_code in _SETTING:
            setattr(target, name, value)
        else:
            builtin_setattr(target, name, value)

    def routed_delattr(target: Any, name: str) -> None:
        __tracebackhide__ = True
        code = sys._getframe(1).f_code
        if code is _DELETING or code in _RESTORING:
            delattr(target, name, restoring=code is not _DELETING)
        else:
            builtin_delattr(target, name)

    get_original = _patch.get_original

    def get_original_through(self: Any) -> tuple[Any, bool]:
        value, local = get_original(self)
        if not is_stand_in(value):
            return value, local
        seen = original(value)
        if seen is absent:  # the test sees the class's: as an attribute not set here
            return getattr(self.target, self.attribute, unittest.mock.DEFAULT), False
        return seen, True

    def process_wide(method: Callable[..., Any], what: str) -> Callable[..., Any]:
        def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            target = what
            if method.__name__ in ("setitem", "delitem") and args:
                target = f"{what} on {_describe_dict(args[0])}[{args[1]!r}]"
            not_per_test(target)
            return method(self, *args, **kwargs)

        return patched

    apply_dict = _patch_dict._patch_dict

    def apply_dict_process_wide(self: Any) -> Any:
        not_per_test(f"patch.dict on {_describe_dict(self.in_dict)}")
        return apply_dict(self)

    with contextlib.ExitStack() as undo:
        for module in (_monkeypatch, unittest.mock):
            for name, routed in (("setattr", routed_setattr), ("delattr", routed_delattr)):
                _shadow_builtin(module, name, routed, undo)
        _replace(_patch, "get_original", get_original_through, undo)
        _replace(_patch_dict, "_patch_dict", apply_dict_process_wide, undo)
        for name, what in _PROCESS_WIDE.items():
            _replace(_MonkeyPatch, name, process_wide(getattr(_MonkeyPatch, name), what), undo)
        yield


def _shadow_builtin(module: Any, name: str, value: object, undo: contextlib.ExitStack) -> None:
    """Shadow the builtin ``name`` in ``module``; the undo puts back what was there
    (the builtin, or the shadow of an engine serving around this one: a nested run)."""
    namespace = module.__dict__
    if name in namespace:
        undo.callback(namespace.__setitem__, name, namespace[name])
    else:
        undo.callback(namespace.pop, name, None)
    namespace[name] = value


def _replace(owner: Any, name: str, value: object, undo: contextlib.ExitStack) -> None:
    previous = owner.__dict__[name]
    builtins.setattr(owner, name, value)
    undo.callback(builtins.setattr, owner, name, previous)
