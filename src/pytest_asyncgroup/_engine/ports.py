"""A free port that one test found is not handed to another test in flight.

Suites find a free port by binding a socket to port 0, reading the port the
system chose, and closing the socket; later the test binds its server to that
port (uvicorn's and pytest-asyncio's ``unused_tcp_port``: find, then bind). Run
one at a time, no other find comes between the two. Overlapping, another test's
find can be handed the same port in between: the system chooses at random among
the ports that are free *now*, and a found port is free again once its socket
is closed. Then one of the two servers fails to bind ("address already in use";
uvicorn's then calls ``sys.exit()``). On uvicorn 0.54.0's websocket tests under
``-n 2`` this happened about once a run; half the time the two finds were in
different workers.

So while the engine serves, a bind to port 0 made by a test's code
(``per_test.py``) chooses the port itself (:class:`FoundPorts`): it asks the
system for a free port with a probe socket of the same kind, and takes the port
only if no other test in flight in this worker found it, and, with several
workers, only if it is in this worker's share of the ports (:func:`in_share`),
so that two workers never hand out the same one; then it binds the socket to
that port. The port stays the finding test's until that test ends.

What it cannot keep apart: a port chosen by code that does not bind through
Python's ``socket`` module (uvloop's servers, a subprocess), the ephemeral port
of an outgoing connection, and other processes on the machine.

Worked example, tests A and B in flight on gw0 of two workers::

    A: s.bind(("127.0.0.1", 0))   probe: 40001 (gw1's share) -> probe again: 40003
                                  bind s to 40003; 40003 is A's
    B: s.bind(("127.0.0.1", 0))   probe: 40003 (A's)         -> probe again: 52107
    A ends                        40003 may be found again
"""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from . import per_test, touches

PROBES = 64
"""Probe sockets tried for one bind before binding to port 0 as asked."""
_INET = (socket.AF_INET, socket.AF_INET6)
_ORIGINAL_BIND = socket.socket.bind


def in_share(port: int, worker: int, workers: int) -> bool:
    """Whether ``port`` is one ``worker`` (of ``workers``) may hand out.

    The system hands out odd ports to ``bind``, so shares are taken by
    ``port // 2``: each worker gets every ``workers``-th odd port.
    """
    return workers <= 1 or (port >> 1) % workers == worker


class FoundPorts:
    """The ports tests in flight in this worker found; see module docstring."""

    def __init__(self, worker: int = 0, workers: int = 1) -> None:
        self.worker = worker
        self.workers = workers
        self._owner: dict[tuple[int, int], per_test.TestContext] = {}
        self._lock = threading.Lock()  # a test's threads bind too

    def acceptable(self, kind: tuple[int, int], test: per_test.TestContext) -> bool:
        owner = self._owner.get(kind)
        return (owner is None or owner is test or owner.ended) and in_share(
            kind[1], self.worker, self.workers
        )

    def keep(self, kind: tuple[int, int], test: per_test.TestContext) -> None:
        """``test`` found the port of ``kind`` (socket type, port): it is its own."""
        with self._lock:
            if self._owner.get(kind) is test:
                return
            self._owner[kind] = test
        test.at_end(lambda: self._release(kind, test))
        touches.found_port(kind[1])  # for the doctor

    def _release(self, kind: tuple[int, int], test: per_test.TestContext) -> None:
        with self._lock:
            if self._owner.get(kind) is test:
                del self._owner[kind]

    def bind(self, sock: socket.socket, address: Any, bind: Callable[[Any], None]) -> None:
        """``sock.bind(address)`` (``bind``: the real one) for a test's code."""
        test = per_test.current()
        if test is None or sock.family not in _INET or not _port_zero(address):
            bind(address)
            return
        for _ in range(PROBES):
            port = _probe(sock, address)
            if port is None:
                break
            kind = (int(sock.type), port)
            with self._lock:
                if not self.acceptable(kind, test):
                    continue
            try:
                bind((address[0], port, *address[2:]))
            except OSError as error:
                if error.errno == errno.EADDRINUSE:  # another process took it meanwhile
                    continue
                raise
            self.keep(kind, test)
            return
        bind(address)


def _port_zero(address: Any) -> bool:
    return isinstance(address, tuple) and len(address) >= 2 and address[1] == 0


def _probe(sock: socket.socket, address: Any) -> int | None:
    """A port the system would bind ``sock`` to at ``address`` now; None if it will not say."""
    try:
        with socket.socket(sock.family, sock.type, sock.proto) as probe:
            _ORIGINAL_BIND(probe, address)
            return int(probe.getsockname()[1])
    except OSError:
        return None  # binding as asked says why


@contextlib.contextmanager
def ports_kept(found: FoundPorts) -> Iterator[None]:
    """Bind through ``found`` for the ``with`` block (``socket.socket.bind``, a
    method of the C type, is set on the Python class every socket is made from)."""

    def bind(self: socket.socket, address: Any) -> None:
        found.bind(self, address, lambda where: _ORIGINAL_BIND(self, where))

    socket.socket.bind = bind  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        socket.socket.bind = _ORIGINAL_BIND  # type: ignore[method-assign]
