"""Why a test runs alone, as the summary names it."""

from __future__ import annotations

from pytest_asyncgroup._core.apart import ALONE_FIXTURE, advice, alone_chain, describe_chain


def test_the_chain_runs_from_what_the_test_requests_to_the_alone_fixture() -> None:
    requests = {"frozen": ("monkeypatch",), "client": ("frozen", "db"), "db": ()}
    assert alone_chain(("client", "request"), requests, {"monkeypatch"}) == [
        "client",
        "frozen",
        "monkeypatch",
    ]


def test_the_shortest_chain_wins_and_a_test_without_one_has_none() -> None:
    requests = {"a": ("b",), "b": ("mocker",), "c": ("mocker",)}
    assert alone_chain(("a", "c"), requests, {"mocker"}) == ["c", "mocker"]
    assert alone_chain(("x",), {"x": ("y",), "y": ("x",)}, {"mocker"}) is None  # cycles end


def test_labels_say_how_each_fixture_came_in() -> None:
    chain = describe_chain(
        ["frozen", "monkeypatch"], {"frozen": "autouse, conftest.py:3", "monkeypatch": ""}
    )
    assert chain == "frozen (autouse, conftest.py:3) -> monkeypatch"


def test_the_advice_names_the_fixture() -> None:
    reason = f"{ALONE_FIXTURE}: frozen (autouse, conftest.py:3) -> monkeypatch (monkeypatch.py:30)"
    assert advice(reason).startswith("tests requesting monkeypatch run alone")
