"""Unit tests of marker parsing and settings (no pytest run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_asyncgroup._core.keys import Declaration
from pytest_asyncgroup._core.markers import DeclarationError, parse_declaration
from pytest_asyncgroup._core.settings import (
    DEFAULT_CONCURRENCY,
    SettingError,
    build_settings,
    parse_limits,
    parse_output_path,
)


@dataclass
class Mark:
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def test_marks_combine_and_exclusive_wins_over_shared() -> None:
    declaration = parse_declaration(
        [Mark(("db", "cache")), Mark(("db",), {"exclusive": True})], [], ["queue"]
    )
    assert declaration == Declaration(
        shared=frozenset({"cache", "queue"}), exclusive=frozenset({"db"})
    )
    assert declaration.keys == {"db", "cache", "queue"}


def test_serial_is_recorded() -> None:
    assert parse_declaration([], [Mark()]).serial


@pytest.mark.parametrize(
    "mark",
    [Mark(), Mark(("",)), Mark((None,)), Mark(("a",), {"x": 1}), Mark(("a",), {"exclusive": 1})],
)
def test_malformed_resource_marks_are_rejected(mark: Mark) -> None:
    with pytest.raises(DeclarationError):
        parse_declaration([mark], [])


def test_limits_parse_and_reject_bad_entries() -> None:
    assert parse_limits(["api=4", "db=16"]) == {"api": 4, "db": 16}
    for bad in (["api"], ["=3"], ["api=-1"], ["api=1.5"], ["a=1", "a=2"]):
        with pytest.raises(SettingError, match="asyncgroup_limits"):
            parse_limits(bad)


def test_output_paths_are_checked_before_the_run(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    (tmp_path / "adir").mkdir()
    option = "--asyncgroup-timeline"
    assert parse_output_path("t.json", tmp_path, option) == tmp_path / "t.json"
    assert parse_output_path("new/dirs/t.json", tmp_path, option) == tmp_path / "new/dirs/t.json"
    assert parse_output_path(str(tmp_path / "t.json"), Path("/elsewhere"), option) == (
        tmp_path / "t.json"
    )
    for bad, problem in [
        ("adir", "'adir' is a directory"),
        ("afile/t.json", f"'afile/t.json': '{tmp_path / 'afile'}' is not a directory"),
        ("afile/more/t.json", f"'{tmp_path / 'afile'}' is not a directory"),
        ("  ", "the path is empty"),
    ]:
        with pytest.raises(SettingError, match=f"^{option}: ") as raised:
            parse_output_path(bad, tmp_path, option)
        assert problem in str(raised.value)


def test_the_option_wins_over_the_ini_and_the_default_is_documented() -> None:
    def build(option: object, ini: str) -> int:
        return build_settings(
            concurrency_option=option,
            concurrency_ini=ini,
            limits_ini=[],
            per_worker_ini=[],
            alone_fixtures_ini=None,
        ).concurrency

    assert build(None, "") == DEFAULT_CONCURRENCY == 64
    assert build(None, "8") == 8
    assert build("3", "8") == 3
