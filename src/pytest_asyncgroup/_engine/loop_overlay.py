"""A test that patches the running loop patches it for itself alone.

Under pytest-asyncio each test has a loop of its own, so a test may patch it:
``patch.object(asyncio.get_running_loop(), "is_closed")``,
``monkeypatch.setattr(loop, "time", fake)``, ``loop.slow_callback_duration = 1``.
Here every test of the worker shares one loop; such a patch would be seen by
every test beside it (a janus queue that believes the loop closed drops its
wake-ups and waits for ever).

So while the worker loop serves, its class is swapped (``__class__``, same
layout, same name) for a subclass that routes what a test's code sets or deletes
on the loop object (see ``per_test.py`` for what counts as a test's code) to
that test's overlay, and reads it back from there for that test's code only:

- *Guarded* (no overlay anywhere): only ``__setattr__`` and ``__delattr__`` are
  overridden, which the loop's own code seldom calls; reads cost nothing.
- *Overlaid* (some test has an overlay): ``__getattribute__`` too, so a test's
  code reads its own values. The class goes back to guarded when the last test
  with an overlay ends.

What is routed: public names, and any name the loop's class defines (methods,
private ones too), set by code other than the loop's own methods. A private
name the class does not define is the loop's own state (``_default_executor``,
``_timer_cancelled_count``): its own methods set it, also when a test calls
them, so it stays shared, as ``loop.set_debug()`` or
``loop.set_exception_handler()`` do today. So is what a method of the loop's
class sets, public or not: a loop class of a suite's own (made by
pytest-asyncio's loop factory) that keeps ``self.steps`` for its tests to read
resets it with ``loop.clear()`` for everyone, as the loop's own code appends to
it; ``loop.steps = []`` in the test's code is the test's.

Where this differs from a loop of the test's own: the loop's scheduling runs
outside every test and sees the real attributes. A patched ``time`` changes what
the test's code reads, and so the time its timers are scheduled at, but the
loop wakes timers by its real clock (a timer at a faked time near 0 is due at
once). At the end of the test its overlay goes, whatever it left set.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

from . import per_test

_DELETED = object()
"""In an overlay: the test deleted this attribute (it then sees the class's)."""
_MISSING = object()


def _routed(cls: type, name: str, cache: dict[str, bool]) -> bool:
    routed = cache.get(name)
    if routed is None:
        routed = not name.startswith("_") or (
            not name.startswith("__")
            and inspect.getattr_static(cls, name, _DELETED) is not _DELETED
        )
        cache[name] = routed
    return routed


def _class_attribute(loop: object, name: str) -> Any:
    """``getattr(loop, name)`` as if the instance had no attribute ``name``."""
    cls = type(loop)
    for klass in cls.__mro__:
        if name in klass.__dict__:
            attribute = klass.__dict__[name]
            get = getattr(type(attribute), "__get__", None)
            return attribute if get is None else get(attribute, loop, cls)
    raise AttributeError(f"{cls.__name__!r} object has no attribute {name!r}")


def _methods_code(cls: type) -> frozenset[types.CodeType]:
    """The code of the Python methods (and property accessors) of ``cls`` and its
    bases: a frame running one of them is the loop's own code."""
    found: set[types.CodeType] = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        for attribute in vars(klass).values():
            if isinstance(attribute, (staticmethod, classmethod)):
                attribute = attribute.__func__
            functions = (
                (attribute.fget, attribute.fset, attribute.fdel)
                if isinstance(attribute, property)
                else (attribute,)
            )
            for function in functions:
                code = getattr(function, "__code__", None)
                if isinstance(code, types.CodeType):
                    found.add(code)
    return frozenset(found)


class _Overlays:
    """The guarded and overlaid classes of one loop, and who has an overlay."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.real = type(loop)
        self.with_overlay = 0
        names: dict[str, bool] = {}
        overlays = self
        real = self.real

        own_code = _methods_code(real)

        def overlay_for_writing(name: str) -> dict[str, Any] | None:
            test = per_test.current()
            if test is None or not _routed(real, name, names):
                return None
            # (0: here, 1: ``__setattr__``/``__delattr__``, 2: who set it)
            if sys._getframe(2).f_code in own_code:
                return None  # the loop's own method: its state
            return overlays.overlay_of(test, name)

        class Guarded(real):  # type: ignore[valid-type, misc]
            __slots__ = ()

            def __setattr__(self, name: str, value: Any) -> None:
                overlay = overlay_for_writing(name)
                if overlay is None:
                    real.__setattr__(self, name, value)
                else:
                    overlay[name] = value

            def __delattr__(self, name: str) -> None:
                overlay = overlay_for_writing(name)
                if overlay is None:
                    real.__delattr__(self, name)
                    return
                value = overlay.get(name, _MISSING)
                shadowed = name in real.__getattribute__(self, "__dict__")
                if value is _DELETED or (value is _MISSING and not shadowed):
                    raise AttributeError(name)
                if shadowed:
                    overlay[name] = _DELETED  # the test sees the class's now
                else:
                    del overlay[name]

            def run_in_executor(self, executor: Any, func: Callable[..., Any], *args: Any) -> Any:
                test = per_test.current()
                if test is not None:  # the thread's calls are made on the test's behalf
                    func = per_test.on_behalf(test, func)
                return super().run_in_executor(executor, func, *args)

        class Overlaid(Guarded):
            __slots__ = ()

            def __getattribute__(self, name: str) -> Any:
                test = per_test.current()
                if test is not None:
                    overlay = test.overlays.get(id(self))
                    if overlay is not None and name in overlay:
                        value = overlay[name]
                        return _class_attribute(self, name) if value is _DELETED else value
                return real.__getattribute__(self, name)

        for cls in (Guarded, Overlaid):
            cls.__name__, cls.__qualname__ = real.__name__, real.__qualname__
            cls.__module__ = real.__module__
        self.guarded: type = Guarded
        self.overlaid: type = Overlaid

    def overlay_of(self, test: per_test.TestContext, name: str) -> dict[str, Any]:
        """``test``'s overlay of the loop, made (and the class made overlaid) if new."""
        overlay = test.overlays.get(id(self.loop))
        if overlay is None:
            overlay = test.overlays[id(self.loop)] = {}
            self.with_overlay += 1
            object.__setattr__(self.loop, "__class__", self.overlaid)
            test.at_end(lambda: self._ended(test))
        per_test.changed(test, f"set or deleted loop.{name}")
        return overlay

    def _ended(self, test: per_test.TestContext) -> None:
        test.overlays.pop(id(self.loop), None)
        self.with_overlay -= 1
        if self.with_overlay == 0 and type(self.loop) is self.overlaid:
            object.__setattr__(self.loop, "__class__", self.guarded)


@contextlib.contextmanager
def overlaid(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Give each test its own overlay of ``loop``'s attributes while this runs.

    A loop whose class cannot be swapped (an extension type with no Python
    subclass) is left as it is: its attributes cannot be set either. uvloop's
    ``Loop`` is a Python subclass of its Cython base: it is swapped as asyncio's
    loops are (``tests/acceptance/test_uvloop.py``).
    """
    overlays = _Overlays(loop)
    try:
        object.__setattr__(loop, "__class__", overlays.guarded)
    except TypeError:
        yield
        return
    try:
        yield
    finally:
        object.__setattr__(loop, "__class__", overlays.real)
