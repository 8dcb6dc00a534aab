"""Python's and asyncio's private names, and what differs between Python versions."""

from __future__ import annotations

import asyncio
import sys

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


if sys.version_info >= (3, 11):
    from builtins import BaseExceptionGroup as BaseExceptionGroup
else:  # Python 3.10: the backport pytest itself depends on
    from exceptiongroup import BaseExceptionGroup as BaseExceptionGroup
