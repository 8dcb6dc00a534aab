"""Python's and asyncio's private names, and what differs between Python versions."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

# --- asyncio's running loop ---------------------------------------------------------
# A test's synchronous code runs in its greenlet with no loop running, as in a plain
# run (so ``asyncio.run`` works there); the bridge unsets and restores the running
# loop around each such step with asyncio's own setter, which the C accelerator and
# the pure-Python module share (``asyncio.events``). The same objects, not wrappers:
# they are called at every step. Checked: Python 3.10, 3.11, 3.12, 3.13.

set_running_loop = asyncio.events._set_running_loop
"""Make ``loop`` (or None) the running loop of this thread."""
running_loop_or_none = asyncio.events._get_running_loop
"""The running loop of this thread, or None (no error, unlike ``get_running_loop``)."""


# --- the worker's loop ---------------------------------------------------------------
# ``asyncio.run`` with a loop factory (uvloop's, from pytest-asyncio's
# ``pytest_asyncio_loop_factories`` hook): ``asyncio.Runner(loop_factory=...)`` on
# 3.11+ (``asyncio.run`` takes one from 3.12 only); on 3.10 the steps of 3.10's
# ``asyncio.run`` by hand. A Runner given a factory does not make its loop the
# thread's current one; as pytest-asyncio does with a factory, we do.
# Checked: Python 3.10, 3.11, 3.12, 3.13 (tests/acceptance/test_uvloop.py and
# test_loop_factories.py, uvloop 0.23.0).


def run_on_new_loop(
    main: Coroutine[Any, Any, None],
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> None:
    """``asyncio.run(main)``, on a loop made by ``loop_factory`` if given."""
    if loop_factory is None:
        asyncio.run(main)
        return
    made = loop_factory

    def checked() -> asyncio.AbstractEventLoop:
        loop = made()
        if not isinstance(loop, asyncio.AbstractEventLoop):
            main.close()  # never started: no "never awaited" warning
            raise TypeError(
                f"pytest-asyncgroup: the loop factory {made!r} made a "
                f"{type(loop).__qualname__!r}, not an asyncio event loop (an instance "
                "of asyncio.AbstractEventLoop); the worker's loop cannot be made with it"
            )
        return loop

    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=checked) as runner:
            asyncio.set_event_loop(runner.get_loop())
            try:
                runner.run(main)
            finally:
                asyncio.set_event_loop(None)
    else:  # pragma: no cover - Python 3.10
        _run_310(main, checked())


def _run_310(main: Coroutine[Any, Any, None], loop: asyncio.AbstractEventLoop) -> None:
    """What 3.10's ``asyncio.run`` does after making its loop."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(main)
    finally:
        try:
            left = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in left:
                task.cancel()
            if left:
                loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            for task in left:
                if not task.cancelled() and task.exception() is not None:
                    loop.call_exception_handler(
                        {
                            "message": "unhandled exception during asyncio.run() shutdown",
                            "exception": task.exception(),
                            "task": task,
                        }
                    )
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


if sys.version_info >= (3, 11):
    from builtins import BaseExceptionGroup as BaseExceptionGroup
else:  # Python 3.10: the backport pytest itself depends on
    from exceptiongroup import BaseExceptionGroup as BaseExceptionGroup
