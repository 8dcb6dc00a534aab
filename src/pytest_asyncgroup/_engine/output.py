"""Each test's stdout, stderr and log records, while tests overlap.

pytest captures process-wide: for each phase it swaps ``sys.stdout`` (or
redirects fd 1), runs the phase, and reads what was written; log records go to
one shared handler, reset per phase. With tests overlapping, every test would
get what its neighbours wrote. So while the worker loop serves:

- ``sys.stdout`` and ``sys.stderr`` are :class:`_StreamRouter` objects: a write
  goes to the stream of the test whose context is current (a ContextVar set in
  the test's task, so tasks it starts inherit it), or to the real stream when no
  test is in a phase (hooks, the loop's own code);
- a :class:`_LogRouter` on the root logger hands each record to the current
  test's caplog and report handlers;
- pytest's ``item_capture`` and ``_runtest_for`` (see ``_compat``) are shadowed
  by versions that give each test its own streams and handlers, and add the
  same report sections pytest adds ("Captured stdout call", "Captured log
  setup", ...) from them;
- pytest's process-wide capture of stdout and stderr stays off: when an
  overlapping test switches it (``--setup-show`` does around each fixture line,
  a debugger around its session), only stdin follows, and the routers stay in
  place, except while a debugger has the terminal.

A test that runs alone in its worker (sync, ``serial``, a capture fixture) does
not get a :class:`TestOutput`: pytest's own process-wide capture, fd level
included, runs for it unchanged, since nothing overlaps it.

Not captured per test: bytes written straight to file descriptors 1 and 2 by
overlapping tests (subprocesses, C code); they reach the worker's own output.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

import pytest

from .. import _compat


class TestOutput:
    """Where one overlapping test's output goes during its current phase.

    A phase's streams and its report's log handler are made at their first use:
    most phases of most tests write nothing, and pytest adds no section for
    empty output, so a stream never made is the same report (and making the
    two streams and the handler is about a tenth of a trivial test's cost).
    """

    __test__ = False
    __slots__ = ("caplog_handler", "new_stream", "report_log", "streams")

    def __init__(self) -> None:
        self.streams: dict[str, Any] = {}
        self.new_stream: Callable[[str], Any] | None = None  # set during a captured phase
        self.caplog_handler: logging.Handler | None = None  # set during a phase
        self.report_log: _PhaseLog | None = None  # set during a phase

    def stream(self, name: str) -> Any | None:
        """The phase's stream ``name`` (made now if it is the first use); None
        between phases."""
        stream = self.streams.get(name)
        if stream is None and self.new_stream is not None:
            stream = self.streams[name] = self.new_stream(name)
        return stream


class _PhaseLog:
    """The handler for a phase's "Captured log" section, made at its first record."""

    __slots__ = ("_formatter", "_handler", "level")

    def __init__(self, formatter: logging.Formatter, level: int | None) -> None:
        self._formatter = formatter
        self._handler: logging.Handler | None = None
        self.level = logging.NOTSET if level is None else level

    def handle(self, record: logging.LogRecord) -> None:
        if self._handler is None:
            self._handler = _compat.log_capture_handler(self._formatter, self.level)
        self._handler.handle(record)

    def text(self) -> str:
        if self._handler is None:
            return ""
        return str(self._handler.stream.getvalue().strip())  # type: ignore[attr-defined]


_CURRENT: ContextVar[TestOutput | None] = ContextVar("asyncgroup_output", default=None)


def capture_for_this_test() -> None:
    """Give the calling task's test its own output (call in the test's task)."""
    _CURRENT.set(TestOutput())


def in_overlapping_test() -> bool:
    """Whether the caller runs in a test that may overlap others (not alone)."""
    return _CURRENT.get() is not None


class _StreamRouter:
    """Stands in for ``sys.stdout``/``sys.stderr``: writes go to the current test."""

    def __init__(self, name: str, fallback: Any) -> None:
        self._name = name
        self._fallback = fallback

    def _target(self) -> Any:
        output = _CURRENT.get()
        if output is not None:
            stream = output.stream(self._name)
            if stream is not None:
                return stream
        return self._fallback

    def write(self, text: str) -> int:
        return int(self._target().write(text))

    def writelines(self, lines: Any) -> None:
        self._target().writelines(lines)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)


class _StreamRouters:
    def __init__(self) -> None:
        self._routers = {
            name: _StreamRouter(name, getattr(sys, name)) for name in ("stdout", "stderr")
        }

    def install(self) -> None:
        for name, router in self._routers.items():
            setattr(sys, name, router)

    def uninstall(self) -> None:
        for name, router in self._routers.items():
            if getattr(sys, name) is router:
                setattr(sys, name, router._fallback)

    def fallback(self, name: str) -> Any:
        return self._routers[name]._fallback


class _LogRouter(logging.Handler):
    """On the root logger: each record goes to the current test's handlers."""

    def emit(self, record: logging.LogRecord) -> None:
        output = _CURRENT.get()
        if output is None:
            return
        caplog_handler = output.caplog_handler
        if caplog_handler is not None and record.levelno >= caplog_handler.level:
            caplog_handler.handle(record)
        report_log = output.report_log
        if report_log is not None and record.levelno >= report_log.level:
            report_log.handle(record)


def _stream_capture(
    original: Callable[[str, pytest.Item], Any], routers: _StreamRouters, tee: bool
) -> Callable[[str, pytest.Item], Any]:
    """``CaptureManager.item_capture`` for overlapping tests."""

    def new_stream(name: str) -> Any:
        return _compat.memory_stream(routers.fallback(name) if tee else None)

    @contextlib.contextmanager
    def item_capture(when: str, item: pytest.Item) -> Iterator[None]:
        output = _CURRENT.get()
        if output is None:  # alone: pytest's process-wide capture, then our routers again
            try:
                with original(when, item):
                    yield
            finally:
                routers.install()
            return
        output.new_stream = new_stream
        try:
            yield
        finally:
            streams, output.streams, output.new_stream = output.streams, {}, None
            for name in ("stdout", "stderr"):
                stream = streams.get(name)
                if stream is not None:
                    item.add_report_section(when, name, stream.getvalue())

    return item_capture


def _capture_switches(capman: Any, routers: _StreamRouters) -> dict[str, Callable[..., None]]:
    """``CaptureManager``'s switches of the process-wide capture, for overlapping tests.

    Called from a test that runs alone, they are pytest's. Called from an
    overlapping test, they leave stdout and stderr to the routers: suspending
    with ``in_=True`` (a debugger taking the terminal) hands the real streams
    back until the next resume; resuming only captures stdin again.
    """
    suspend = capman.suspend_global_capture
    resume = capman.resume_global_capture

    def suspend_global_capture(in_: bool = False) -> None:
        suspend(in_)
        if _CURRENT.get() is not None:
            if in_:
                routers.uninstall()
            else:
                routers.install()

    def resume_global_capture() -> None:
        resume()
        if _CURRENT.get() is not None:
            suspend(False)
            routers.install()

    return {
        "suspend_global_capture": suspend_global_capture,
        "resume_global_capture": resume_global_capture,
    }


def _log_capture(plugin: Any) -> _compat.MakeLogPhase:
    """``LoggingPlugin._runtest_for`` for overlapping tests."""

    def make(original: Callable[[pytest.Item, str], Any]) -> Callable[..., Iterator[None]]:
        def runtest_for(item: pytest.Item, when: str) -> Iterator[None]:
            output = _CURRENT.get()
            if output is None:
                with original(item, when):
                    yield
                return
            caplog_handler = _compat.log_capture_handler(plugin.formatter, plugin.log_level)
            _compat.store_caplog(item, when, caplog_handler)
            report_log = _PhaseLog(plugin.formatter, plugin.log_level)
            output.caplog_handler, output.report_log = caplog_handler, report_log
            try:
                yield
            finally:
                output.caplog_handler, output.report_log = None, None
                item.add_report_section(when, "log", report_log.text())

        return runtest_for

    return make


class OutputRouting:
    """Per-test output for overlapping tests, switched on only while they run.

    A test that runs alone has nothing beside it, so pytest's own capture is
    exactly right for it: :meth:`off` takes every replacement away (a suite of
    sync tests never pays for routing), :meth:`on` puts them back.
    """

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._stack: contextlib.ExitStack | None = None

    def on(self) -> None:
        if self._stack is not None:
            return
        with contextlib.ExitStack() as stack:
            config = self._config
            capman = _compat.capture_manager(config)
            method = _compat.capture_method(config)
            if capman is not None and method != "no":
                routers = _StreamRouters()
                routers.install()
                stack.callback(routers.uninstall)
                capture = _stream_capture(capman.item_capture, routers, tee=method == "tee-sys")
                stack.enter_context(_compat.method_replaced(capman, "item_capture", capture))
                for name, switch in _capture_switches(capman, routers).items():
                    stack.enter_context(_compat.method_replaced(capman, name, switch))
            plugin = _compat.logging_plugin(config)
            if plugin is not None:
                stack.enter_context(_attached(_LogRouter(), plugin.log_level))
                stack.enter_context(_compat.log_phase_replaced(plugin, _log_capture(plugin)))
            self._stack = stack.pop_all()

    def off(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()


@contextlib.contextmanager
def _attached(handler: logging.Handler, level: int | None) -> Iterator[None]:
    """``handler`` on the root logger (and the level pytest would set per phase)."""
    root = logging.getLogger()
    # Like pytest's ``catching_logs``: non-propagating loggers never reach the root.
    loggers = [root] + [
        logger
        for logger in root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    for logger in loggers:
        logger.addHandler(handler)
    original_level = root.level
    if level is not None:
        root.setLevel(min(original_level, level))
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        root.setLevel(original_level)
