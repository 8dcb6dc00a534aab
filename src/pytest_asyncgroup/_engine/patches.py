"""Patches per test: what one test replaces through ``monkeypatch`` or ``mock.patch``
is seen by its own code only.

In a plain run a test may replace ``app.time`` (``monkeypatch.setattr``,
``mocker.patch``, ``patch.object``): nothing else runs until it undoes it. Here
other tests run beside it, and would call its fake; its undo would restore the
real function under a test that patched it too.

So, while the worker loop serves, the ``setattr``/``delattr`` that those APIs make
(and only those: ``_compat.patching_routed``) come here when a test's code makes
them (``per_test.py``). Where the replacement can be per test, the attribute gets
a *stand-in* that holds the original (its *base*) and, per test, a stack of what
that test set; each test's code sees the top of its own stack, or the base:

- an attribute of a class (a method, classmethod, property, any value): the
  stand-in is a descriptor in the class's ``__dict__`` (:class:`_ClassStandIn`)
  that binds the test's value as the class would bind it;
- a callable (function, class, method) on a module, replaced by a callable:
  the stand-in is callable and forwards calls, attribute access and
  ``isinstance`` to the test's value (:class:`_CallableStandIn`), since a
  module's own code reads its globals without asking the module; read as the
  module's attribute, it is the test's value itself (:class:`_ModuleReads`).

A ``setattr`` that restores the value the test saw before (the base, or the
stand-in itself, which is what ``monkeypatch`` remembered) pops or clears the
test's stack; so each test's undo takes off its own patches in any order. When
no test holds a patch, the base goes back in place (``is`` the original). At the
end of a test whatever it left set goes.

Everything else a test patches (a non-callable module global, an attribute of
an object, deleting a module's attribute; and ``setitem``,
``setenv``, ``chdir``, ``syspath_prepend``, ``patch.dict``, which are not
attributes) is made as in a plain run, after the test has taken the worker's
gate (``isolation.py``): no other test's code runs until it ends.
"""

from __future__ import annotations

import builtins
import contextlib
import inspect
import types
from collections.abc import Callable, Iterator
from typing import Any

from .. import _compat
from . import per_test
from .isolation import Gate

_ABSENT: Any = object()
"""No attribute of that name in the holder's ``__dict__`` (the class's is seen)."""

_NOT_PER_TEST_NAMES = frozenset(
    {"__class__", "__dict__", "__bases__", "__mro__", "__slots__", "__weakref__", "__name__"}
)


class _Views:
    """Per test, the stack of values it set at one attribute; and the base."""

    __slots__ = ("base", "by_test", "holder", "name")

    def __init__(self, holder: object, name: str, base: Any) -> None:
        self.holder = holder
        self.name = name
        self.base = base
        self.by_test: dict[per_test.TestContext, list[Any]] = {}

    def seen(self) -> Any:
        """The value the running code sees (its test's, or the base)."""
        test = per_test.current()
        if test is not None:
            stack = self.by_test.get(test)
            if stack:
                return stack[-1]
        return self.base


def _looked_up_past(views: _Views, obj: Any, owner: type | None) -> Any:
    """The attribute as if the holder class's ``__dict__`` had no such name: from the
    next class in the MRO."""
    name = views.name
    cls = owner if owner is not None else type(obj)
    mro = cls.__mro__
    start = mro.index(views.holder) + 1 if views.holder in mro else 0
    for klass in mro[start:]:
        if name in klass.__dict__:
            attribute = klass.__dict__[name]
            get = getattr(type(attribute), "__get__", None)
            return attribute if get is None else get(attribute, obj, owner)
    raise AttributeError(name)


class _CallableStandIn:
    """In a module's ``__dict__``: calls (and reads) the running test's value.

    What the module's own functions reach as a global. Read as an attribute of
    the module (``app.fetch``, ``getattr``, ``from app import fetch``) it is the
    running test's value itself (:class:`_ModuleReads`)."""

    __slots__ = ("__weakref__", "_views")

    def __init__(self, views: _Views) -> None:
        object.__setattr__(self, "_views", views)

    def _target(self) -> Any:
        views: _Views = object.__getattribute__(self, "_views")
        return views.seen()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return object.__getattribute__(self, "_target")()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "_target")(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_target")(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(object.__getattribute__(self, "_target")(), name)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(stand_in, FunctionType), Mock, ...
        return type(object.__getattribute__(self, "_target")())

    def __dir__(self) -> list[str]:
        return dir(object.__getattribute__(self, "_target")())

    def __repr__(self) -> str:
        return repr(object.__getattribute__(self, "_target")())

    def __eq__(self, other: object) -> bool:
        target = object.__getattribute__(self, "_target")()
        return bool(target == other)

    def __hash__(self) -> int:
        return hash(object.__getattribute__(self, "_target")())

    def __bool__(self) -> bool:
        return bool(object.__getattribute__(self, "_target")())

    def __getitem__(self, key: Any) -> Any:  # ``Client[int]`` for a generic class
        return object.__getattribute__(self, "_target")()[key]

    def __instancecheck__(self, instance: Any) -> bool:
        return isinstance(instance, object.__getattribute__(self, "_target")())

    def __subclasscheck__(self, subclass: Any) -> bool:
        return issubclass(subclass, object.__getattribute__(self, "_target")())

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[Any, ...]:
        return (object.__getattribute__(self, "_target")(),)


class _ClassStandIn:
    """In a class's ``__dict__``: the running test's value, bound as the class binds it."""

    __slots__ = ("_views",)

    def __init__(self, views: _Views) -> None:
        self._views = views

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        views = self._views
        value = views.seen()
        if value is _ABSENT:
            return _looked_up_past(views, obj, owner)
        get = getattr(type(value), "__get__", None)
        return value if get is None else get(value, obj, owner)


def _is_data_descriptor(value: Any) -> bool:
    kind = type(value)
    return hasattr(kind, "__set__") or hasattr(kind, "__delete__")


class _DataClassStandIn(_ClassStandIn):
    """For a base that is a data descriptor (a property): a data descriptor too,
    that acts as the running test's value would."""

    __slots__ = ()

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is not None:
            value = self._views.seen()
            if not _is_data_descriptor(value):
                own = getattr(obj, "__dict__", None)
                if own is not None and self._views.name in own:
                    return own[self._views.name]
        return super().__get__(obj, owner)

    def __set__(self, obj: Any, value: Any) -> None:
        seen = self._views.seen()
        if _is_data_descriptor(seen):
            type(seen).__set__(seen, obj, value)
        else:
            obj.__dict__[self._views.name] = value

    def __delete__(self, obj: Any) -> None:
        seen = self._views.seen()
        if _is_data_descriptor(seen):
            type(seen).__delete__(seen, obj)
        else:
            del obj.__dict__[self._views.name]


StandIn = (_CallableStandIn, _ClassStandIn)


class _ModuleReads:
    """Modules holding stand-ins read them as the running test's value.

    While a module holds one, its class is swapped (``__class__``, as Python
    allows for modules) for a subclass whose ``__getattribute__`` resolves a
    stand-in; so ``getattr(app, "fetch")`` is the test's mock, or for another
    test the original itself (``mocker.spy`` wraps what it reads: it must not
    wrap a stand-in). The class goes back with the module's last stand-in. A
    module whose class refuses the swap keeps showing the stand-in.
    """

    def __init__(self) -> None:
        self._held: dict[int, tuple[types.ModuleType, type, int]] = {}
        self._classes: dict[type, type] = {}

    def add(self, module: types.ModuleType) -> None:
        held = self._held.get(id(module))
        if held is not None:
            self._held[id(module)] = (module, held[1], held[2] + 1)
            return
        original = type(module)
        try:
            module.__class__ = self._reading(original)
        except TypeError:
            return
        self._held[id(module)] = (module, original, 1)

    def discard(self, module: object) -> None:
        held = self._held.get(id(module))
        if held is None:
            return
        if held[2] > 1:
            self._held[id(module)] = (held[0], held[1], held[2] - 1)
            return
        del self._held[id(module)]
        held[0].__class__ = held[1]

    def _reading(self, original: type) -> type:
        reading = self._classes.get(original)
        if reading is None:
            read: Callable[[Any, str], Any] = original.__getattribute__  # type: ignore[assignment]

            def __getattribute__(module: Any, name: str) -> Any:
                value = read(module, name)
                if type(value) is _CallableStandIn:
                    return _views_of(value).seen()
                return value

            reading = type(
                original.__name__,
                (original,),
                {"__getattribute__": __getattribute__, "__slots__": ()},
            )
            self._classes[original] = reading
        return reading


def _class_stand_in(target: type, name: str, own: Any) -> type:
    """The stand-in for a class attribute: a data descriptor if what the class shows
    there is one (a property), as the stand-in then takes its place in lookups."""
    shown = own if own is not _ABSENT else inspect.getattr_static(target, name, None)
    return _DataClassStandIn if _is_data_descriptor(shown) else _ClassStandIn


def _views_of(stand_in: Any) -> _Views:
    views: _Views = object.__getattribute__(stand_in, "_views")
    return views


def _own(holder: object, name: str) -> Any:
    """What ``holder``'s own ``__dict__`` holds at ``name`` (``_ABSENT``: nothing)."""
    namespace = getattr(holder, "__dict__", None)
    if namespace is None:
        return _ABSENT
    try:
        return namespace.get(name, _ABSENT)
    except AttributeError:
        return _ABSENT


def _exception_class(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseException)


def _callable_pair(base: Any, value: Any) -> bool:
    return callable(base) and callable(value) and not _exception_class(base)


def describe(target: object, name: str) -> str:
    """``app.time``, ``Client.get``, ``<Client object>.get``: for the summary."""
    if isinstance(target, types.ModuleType):
        return f"{target.__name__}.{name}"
    if isinstance(target, type):
        return f"{target.__module__}.{target.__qualname__}.{name}"
    return f"<{type(target).__qualname__} object>.{name}"


class PerTestPatches:
    """The stand-ins in place, and where per-test patching is routed (see module docstring)."""

    def __init__(self, gate: Gate, exempt: Callable[[object], bool]) -> None:
        self._gate = gate
        self._exempt = exempt
        """Objects that keep per-test overlays of their own (the worker's loop)."""
        self._module_reads = _ModuleReads()
        self._ends: set[tuple[per_test.TestContext, int]] = set()
        """(test, stand-in) pairs whose end is heard of: each test's patches go at its
        end (``per_test.TestContext.end``), which every test reaches."""

    # --- routed calls ---------------------------------------------------------------
    def setattr(self, target: Any, name: str, value: Any) -> None:
        """``setattr(target, name, value)`` by a patching API."""
        own = _own(target, name)
        test = per_test.current()
        if isinstance(own, StandIn):
            views = _views_of(own)
            if test is None:  # outside every test: what every test sees without a patch
                if value is not own:
                    views.base = value
                return
            self._set(test, own, views, value)
            return
        if test is None or self._exempt(target):
            builtins.setattr(target, name, value)
            return
        stand_in = self._stand_in_for(target, name, own, value)
        if stand_in is None:
            self.not_per_test(test, f"set {describe(target, name)}")
            builtins.setattr(target, name, value)
            return
        builtins.setattr(target, name, stand_in)  # raises as plain setattr would
        if isinstance(stand_in, _CallableStandIn):
            self._module_reads.add(target)
        self._set(test, stand_in, _views_of(stand_in), value)

    def delattr(self, target: Any, name: str, *, restoring: bool) -> None:
        """``delattr(target, name)`` by a patching API: an undo (``restoring``: the
        attribute was absent before the patch) or ``monkeypatch.delattr``."""
        own = _own(target, name)
        test = per_test.current()
        if isinstance(own, StandIn):
            views = _views_of(own)
            if test is None:
                views.base = _ABSENT
                return
            if restoring:
                self._set(test, own, views, views.base)
            elif isinstance(target, type):
                self._set(test, own, views, _ABSENT)
            else:
                self.not_per_test(test, f"deleted {describe(target, name)}")
                builtins.delattr(target, name)
            return
        if test is None or self._exempt(target) or restoring:
            builtins.delattr(target, name)
            return
        if isinstance(target, type) and own is not _ABSENT:
            stand_in = self._install(target, name, own, _class_stand_in(target, name, own))
            self._set(test, stand_in, _views_of(stand_in), _ABSENT)
            return
        self.not_per_test(test, f"deleted {describe(target, name)}")
        builtins.delattr(target, name)

    def original(self, stand_in: Any) -> Any:
        """What the running test sees behind ``stand_in`` (``_ABSENT``: the class's)."""
        return _views_of(stand_in).seen()

    def not_per_test(self, test: per_test.TestContext | None, what: str) -> None:
        """A patch that cannot be per test: the test holds the others still."""
        if test is None:
            test = per_test.current()
        if test is not None:
            self._gate.hold(test, what)

    # --- stand-ins ------------------------------------------------------------------
    def _stand_in_for(self, target: Any, name: str, own: Any, value: Any) -> Any:
        if name in _NOT_PER_TEST_NAMES:
            return None
        if isinstance(target, type):
            kind = _class_stand_in(target, name, own)
            return self._install(target, name, own, kind, place=False)
        if isinstance(target, types.ModuleType):
            if own is _ABSENT or not _callable_pair(own, value):
                return None
            return self._install(target, name, own, _CallableStandIn, place=False)
        return None  # an object's attribute: whose the object is cannot be known

    def _install(self, holder: Any, name: str, base: Any, kind: type, *, place: bool = True) -> Any:
        stand_in = kind(_Views(holder, name, base))
        if place:
            builtins.setattr(holder, name, stand_in)
        return stand_in

    def _set(self, test: per_test.TestContext, stand_in: Any, views: _Views, value: Any) -> None:
        stack = views.by_test.get(test)
        if value is stand_in:  # an undo to what the test saw when it patched: one level
            if stack:
                stack.pop()
        elif value is views.base:
            stack = None
            views.by_test.pop(test, None)
        else:
            if stack is None:
                stack = views.by_test[test] = []
            stack.append(value)
            per_test.changed(test, f"patched {describe(views.holder, views.name)} (per test)")
            key = (test, id(stand_in))
            if key not in self._ends:
                self._ends.add(key)
                test.at_end(lambda: self._ended(test, stand_in))
        if not views.by_test.get(test, True):
            del views.by_test[test]
        if not views.by_test:
            self._restore(stand_in, views)

    def _ended(self, test: per_test.TestContext, stand_in: Any) -> None:
        self._ends.discard((test, id(stand_in)))
        views = _views_of(stand_in)
        if views.by_test.pop(test, None) is not None and not views.by_test:
            self._restore(stand_in, views)

    def _restore(self, stand_in: Any, views: _Views) -> None:
        """No test holds a patch here: the base goes back in place."""
        if _own(views.holder, views.name) is not stand_in:
            return  # replaced since, by code that did not ask us
        if views.base is _ABSENT:
            builtins.delattr(views.holder, views.name)
        else:
            builtins.setattr(views.holder, views.name, views.base)
        if isinstance(stand_in, _CallableStandIn):
            self._module_reads.discard(views.holder)


@contextlib.contextmanager
def per_test_patches(gate: Gate, exempt: Callable[[object], bool]) -> Iterator[PerTestPatches]:
    """Route the patching APIs here for the ``with`` block (see module docstring)."""
    patches = PerTestPatches(gate, exempt)
    with _compat.patching_routed(
        setattr=patches.setattr,
        delattr=patches.delattr,
        original=patches.original,
        is_stand_in=lambda value: isinstance(value, StandIn),
        absent=_ABSENT,
        not_per_test=lambda what: patches.not_per_test(None, what),
    ):
        yield patches
