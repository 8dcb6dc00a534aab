"""Workers on other hosts: execnet's socket gateway, as ``--tx socket=HOST:PORT``.

A socket server (``execnet/script/socketserver.py``, what a second machine
would run) is started on 127.0.0.1, or, where the machine allows it, in a
network namespace of its own reached over a veth pair, as a second host would
be. It runs the worker in its own process, so the worker's events carry that
process's id (and network namespace): evidence that the tests said to run on
the remote worker ran there.

README: "Remote workers"; docs/how-to/postgres-and-remote.md.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import events, overlaps, peak_overlap, write_ini
from .xdist_runs import DIST, final_outcomes, reports, run

REMOTE_MARK = "ASYNCGROUP_TEST_REMOTE"  # set in the socket server's environment only


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def socket_server(
    host: str, port: int, directory: Path, prefix: tuple[str, ...] = ()
) -> Iterator[subprocess.Popen[bytes]]:
    """execnet's socket server on ``host:port`` (``prefix`` runs it elsewhere, e.g.
    ``ip netns exec NS``), until the block ends; its output goes to ``directory``."""
    log = (directory / "socketserver.log").open("wb")
    server = subprocess.Popen(
        [*prefix, sys.executable, "-m", "execnet.script.socketserver", f"{host}:{port}"],
        cwd=directory,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, REMOTE_MARK: "1"},
    )
    try:
        deadline = time.monotonic() + 30
        while "Entering Accept loop" not in (directory / "socketserver.log").read_text():
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("socket server did not start: " + _read(directory))
            time.sleep(0.05)
        yield server
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _read(directory: Path) -> str:
    return (directory / "socketserver.log").read_text()


def _tx(host: str, port: int, pytester: pytest.Pytester) -> list[str]:
    """One worker through the socket server (working in the suite's directory, as
    after an rsync), one local: gw0 is the remote one."""
    return ["--tx", f"socket={host}:{port}//chdir={pytester.path}", "--tx", "popen"]


KEYS_SUITE = """
import os, pytest
from recorder import waiting

def where():
    return {"pid": os.getpid(), "netns": os.readlink("/proc/self/ns/net")}

@pytest.mark.resource("db")
@pytest.mark.parametrize("i", range(8))
async def test_db(i):
    await waiting("t", 0.3, test=f"db{i}", key="db", **where())

@pytest.mark.resource("db", exclusive=True)
@pytest.mark.parametrize("i", range(2))
async def test_db_exclusive(i):
    await waiting("t", 0.2, test=f"dbx{i}", key="db", **where())

@pytest.mark.resource("api")
@pytest.mark.parametrize("i", range(8))
async def test_api(i):
    await waiting("t", 0.3, test=f"api{i}", key="api", **where())

@pytest.mark.parametrize("i", range(6))
async def test_free(i):
    await waiting("t", 0.3, test=f"free{i}", **where())
"""


def _check_keys_run(pytester: pytest.Pytester, result: pytest.RunResult, server_pid: int) -> None:
    result.assert_outcomes(passed=24)
    ran = [e for e in events(pytester) if e["name"] == "t"]
    worker_of = {str(e["test"]): str(e["worker"]) for e in ran}
    assert set(worker_of.values()) == {"gw0", "gw1"}
    # gw0's tests ran in the socket server's process; gw1's in a local one.
    remote = [e for e in ran if e["worker"] == "gw0"]
    assert remote
    assert {e["pid"] for e in remote} == {server_pid}
    assert server_pid not in {e["pid"] for e in ran if e["worker"] == "gw1"}
    # Keys as with popen workers: a group on one worker, shared holders overlap,
    # an exclusive holder overlaps no other holder of its key.
    for key in ("db", "api"):
        assert len({str(e["worker"]) for e in ran if e.get("key") == key}) == 1
    span = {str(e["test"]): (float(e["start"]), float(e["end"])) for e in ran}  # type: ignore[arg-type]
    assert peak_overlap([span[f"db{i}"] for i in range(8)]) > 1
    for i in range(2):
        others = [s for name, s in span.items() if name.startswith("db") and name != f"dbx{i}"]
        assert not any(overlaps(span[f"dbx{i}"], other) for other in others)
    # The controller attributes each report to the worker that ran the test.
    attributed = {r["nodeid"].split("::")[1]: r["worker"] for r in reports(pytester)}
    assert attributed["test_db[0]"] == worker_of["db0"]
    assert attributed["test_api[0]"] == worker_of["api0"]
    # The summary counts both workers' tests.
    counts = Counter(worker_of.values())
    result.stdout.fnmatch_lines(
        [
            "*= asyncgroup summary =*",
            "2 workers, 2 groups sharing keys, 24 tests; *",
            f"  gw0: {counts['gw0']} tests, *",
            f"  gw1: {counts['gw1']} tests, *",
        ]
    )


def test_a_socket_worker_keeps_keys_and_reports_as_a_popen_one(logged: pytest.Pytester) -> None:
    logged.makepyfile(KEYS_SUITE)
    port = _free_port()
    with socket_server("127.0.0.1", port, logged.path) as server:
        result = run(logged, *_tx("127.0.0.1", port, logged), DIST)
        _check_keys_run(logged, result, server.pid)


CRASH_SUITE = """
import asyncio, os
import pytest
from recorder import waiting

@pytest.mark.resource("boom")
@pytest.mark.parametrize("i", range(8))
async def test_boom(i):
    # test_boom[1] outlives test_boom[0] by half its time: test_boom[2] is in flight
    # beside it when it kills the worker, whatever the start-up order.
    seconds = 0.45 if i == 1 else 0.3
    await waiting("t", seconds, test=f"boom{i}", remote=bool(os.environ.get("{mark}")))
    if i == 1 and os.environ.get("{mark}"):
        os._exit(1)  # the remote worker (its socket server) dies

@pytest.mark.parametrize("i", range(3))
async def test_free(i):
    await waiting("t", 0.1, test=f"free{i}")
""".replace("{mark}", REMOTE_MARK)


def test_a_crashed_socket_worker_loses_no_test(logged: pytest.Pytester) -> None:
    # The largest group goes to gw0 (the remote worker); two tests at a time, so
    # when test_boom[1] kills it (after test_boom[0] has ended), test_boom[2] is in
    # flight and the rest have not started: those run on the local worker (xdist cannot replace a
    # socket worker whose server has died).
    logged.makepyfile(CRASH_SUITE)
    write_ini(logged, "asyncgroup_concurrency = 2")
    port = _free_port()
    with socket_server("127.0.0.1", port, logged.path):
        result = run(logged, *_tx("127.0.0.1", port, logged), "--max-worker-restart=0", DIST)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    finals = final_outcomes(logged)
    assert len(finals) == 11
    assert all(len(outcomes) == 1 for outcomes in finals.values()), finals
    name = "test_a_crashed_socket_worker_loses_no_test.py"
    failed = sorted(n for n, outcomes in finals.items() if outcomes == ["failed"])
    assert f"{name}::test_boom[1]" in failed
    assert 2 <= len(failed) <= 3  # the crasher and what was in flight beside it
    crashes = [r for r in reports(logged) if r["when"] == "???"]
    assert {r["worker"] for r in crashes} == {"gw0"}
    assert all("crashed while running" in r["longrepr"] for r in crashes)
    # Everything else passed, the tests the remote worker had not started on gw1.
    ran = {str(e["test"]): e for e in events(logged)}
    assert ran["boom0"]["remote"] is True
    later = [f"boom{i}" for i in range(4, 8)]
    assert all(ran[test]["worker"] == "gw1" and not ran[test]["remote"] for test in later)
    assert sum(outcomes == ["passed"] for outcomes in finals.values()) == 11 - len(failed)


def _netns_unavailable() -> str | None:
    if not sys.platform.startswith("linux"):
        return "network namespaces are Linux's"
    if os.geteuid() != 0:
        return "making a network namespace and a veth pair needs root"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    return None


@contextlib.contextmanager
def second_host() -> Iterator[tuple[str, tuple[str, ...]]]:
    """A network namespace joined to this one by a veth pair on a /30 of its own:
    a host reachable only from here. Yields its address and the command prefix that
    runs a program in it."""
    tag = f"agt{os.getpid() % 100000}"
    namespace, here, there = f"asyncgroup-{tag}", f"{tag}a", f"{tag}b"
    subnet = 1 + os.getpid() % 250
    near, far = f"10.251.{subnet}.1", f"10.251.{subnet}.2"
    inside = ("ip", "netns", "exec", namespace)
    steps = [
        ("ip", "netns", "add", namespace),
        ("ip", "link", "add", here, "type", "veth", "peer", "name", there),
        ("ip", "link", "set", there, "netns", namespace),
        ("ip", "addr", "add", f"{near}/30", "dev", here),
        ("ip", "link", "set", here, "up"),
        (*inside, "ip", "addr", "add", f"{far}/30", "dev", there),
        (*inside, "ip", "link", "set", there, "up"),
        (*inside, "ip", "link", "set", "lo", "up"),
    ]
    try:
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode:
                pytest.skip(f"cannot make a network namespace: {' '.join(step)}: {done.stderr}")
        yield far, inside
    finally:
        # Deleting the namespace deletes its end of the pair, and so the pair.
        subprocess.run(("ip", "netns", "del", namespace), capture_output=True)
        subprocess.run(("ip", "link", "del", here), capture_output=True)


@pytest.mark.skipif(_netns_unavailable() is not None, reason=str(_netns_unavailable()))
def test_a_worker_on_another_network_host_keeps_keys_and_reports(
    logged: pytest.Pytester,
) -> None:
    logged.makepyfile(KEYS_SUITE)
    with second_host() as (address, inside):
        port = 18000 + os.getpid() % 10000
        # `ip netns exec` execs the server: its process id is the worker's.
        # pytest-rerunfailures (when installed) has each worker connect back to
        # the controller at 127.0.0.1, which is not the controller from another
        # host: without -p no:rerunfailures the remote worker fails to start.
        with socket_server(address, port, logged.path, prefix=inside) as server:
            result = run(logged, *_tx(address, port, logged), "-p", "no:rerunfailures", DIST)
    _check_keys_run(logged, result, server.pid)
    # And it was another network host: the remote worker's namespace is not ours.
    ran = [e for e in events(logged) if e["name"] == "t"]
    assert {e["netns"] for e in ran if e["worker"] == "gw0"} != {os.readlink("/proc/self/ns/net")}
    assert {e["netns"] for e in ran if e["worker"] == "gw1"} == {os.readlink("/proc/self/ns/net")}
