"""A free port one test found is not found again by another test in flight.

Suites find a port by binding to port 0 and closing the socket, then bind their
server to it (find, then bind). Overlapping, another test's find could be handed
the same port in between, and one server failed with "address already in use"
(uvicorn's websocket tests under ``-n 2``, about once a run).

Docs: concepts/event-loop.md, "Free ports".
"""

from __future__ import annotations

import pytest

DIST = "--dist=asyncgroup"
MODES = pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["one-process", "n2"])

FINDS = """
import asyncio, pathlib, socket

FOUND = pathlib.Path(__file__).parent / "found.txt"


def find():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_finds_then_binds():
    port = find()
    FOUND.write_text(str(port))
    await asyncio.sleep(1.0)  # the other test finds ports meanwhile
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()


async def test_finds_ports_meanwhile():
    while not FOUND.exists():
        await asyncio.sleep(0.01)
    taken = int(FOUND.read_text())
    # The system picks among ~14,000 odd ports at random: 60,000 finds meet one
    # given port with a probability of 98.6% when nothing keeps it.
    handed_out = [port for port in (find() for _ in range(60_000)) if port == taken]
    assert not handed_out, f"port {taken}, found by the other test, was found again"
"""


@MODES
def test_a_port_found_by_one_test_is_not_found_by_another_in_flight(
    suite: pytest.Pytester, mode: list[str]
) -> None:
    suite.makepyfile(test_finds=FINDS)
    result = suite.runpytest(DIST, *mode, "-p", "no:randomly")
    result.assert_outcomes(passed=2)
