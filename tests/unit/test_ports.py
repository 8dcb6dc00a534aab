"""Shares of the free ports between workers (``_engine/ports.py``)."""

from __future__ import annotations

from pytest_asyncgroup._engine.ports import in_share


def test_each_odd_port_is_in_exactly_one_worker_s_share() -> None:
    for workers in (1, 2, 3, 8):
        for port in range(32769, 33769, 2):  # the system hands out odd ports to bind
            owners = [w for w in range(workers) if in_share(port, w, workers)]
            assert len(owners) == 1


def test_every_worker_gets_an_even_share_of_the_odd_ports() -> None:
    ports = range(32769, 60999, 2)
    counts = [sum(in_share(port, w, 4) for port in ports) for w in range(4)]
    assert max(counts) - min(counts) <= 1
