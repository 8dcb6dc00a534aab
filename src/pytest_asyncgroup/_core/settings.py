"""Resolved options of one run, built once per process by ``plugin.py``.

The parsing functions take plain strings so they can be tested without pytest;
every error names the ini setting or command-line option it came from.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_CONCURRENCY = 64
DEFAULT_BLOCK_THRESHOLD = 0.1  # seconds; asyncio's debug mode warns from 0.1 s too
DEFAULT_STALL_REPORT = 60.0  # seconds with tests in flight and none making progress
DEFAULT_ALONE_FIXTURES = ("capfd", "capfdbinary")
CAPTURE_FIXTURES = ("capsys", "capsysbinary", "capfd", "capfdbinary", "capteesys")
"""pytest has one capture-fixture slot per process: tests using these always run alone."""


class SettingError(ValueError):
    """A setting has a value we cannot use; the message names the setting."""


@dataclass(frozen=True)
class Settings:
    """Everything the scheduler and the worker loop need to know about limits."""

    concurrency: int = DEFAULT_CONCURRENCY
    limits: Mapping[str, int] = field(default_factory=dict)
    per_worker: frozenset[str] = frozenset()
    alone_fixtures: frozenset[str] = frozenset(DEFAULT_ALONE_FIXTURES + CAPTURE_FIXTURES)
    timeout: float = 0.0
    """Seconds for tests without a ``timeout`` mark (``--timeout``); 0: none."""
    block_threshold: float = DEFAULT_BLOCK_THRESHOLD
    """A test whose code holds the loop longer than this is named in the summary."""
    pytest_timeout_for_alone: bool = False
    """pytest-timeout is active: it times tests that run alone, by its own method."""
    stall_report: float = DEFAULT_STALL_REPORT
    """Seconds with tests in flight and no phase begun or ended: say where they wait; 0: never."""


def parse_positive_int(value: object, setting: str) -> int:
    """``value`` as an int >= 1, or a :class:`SettingError` naming ``setting``."""
    text = str(value).strip()
    try:
        number = int(text)
    except ValueError:
        raise SettingError(f"{setting}: {text!r} is not a positive integer") from None
    if number < 1:
        raise SettingError(f"{setting}: {text!r} is not a positive integer")
    return number


def parse_limits(entries: Iterable[str], setting: str = "asyncgroup_limits") -> dict[str, int]:
    """``["api=4", "db=16"]`` -> ``{"api": 4, "db": 16}``."""
    limits: dict[str, int] = {}
    for entry in entries:
        key, sep, number = entry.partition("=")
        if not sep or not key.strip():
            raise SettingError(f"{setting}: {entry!r} is not KEY=N (for example db=16)")
        if key.strip() in limits:
            raise SettingError(f"{setting}: key {key.strip()!r} is given twice")
        limits[key.strip()] = parse_positive_int(number, f"{setting} ({key.strip()})")
    return limits


def parse_names(entries: Iterable[str], setting: str) -> frozenset[str]:
    """A whitespace-separated list of non-empty names."""
    names = frozenset(entry.strip() for entry in entries)
    if "" in names:
        raise SettingError(f"{setting}: empty name")
    return names


def parse_seconds(value: object, setting: str) -> float:
    """A number of seconds >= 0 (0: no timeout), or a :class:`SettingError`."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        number = -1.0
    if not number >= 0:
        raise SettingError(f"{setting}: {text!r} is not a number of seconds >= 0")
    return number


def parse_output_path(value: str, cwd: Path, setting: str) -> Path:
    """Where an output file goes: absolute (relative paths from ``cwd``), and
    writable as far as can be told before the run, so a bad path stops the run
    at the start rather than after it. Missing directories are made on writing."""
    text = value.strip()
    if not text:
        raise SettingError(f"{setting}: the path is empty")
    path = cwd / Path(text).expanduser()
    if path.is_dir():
        raise SettingError(f"{setting}: {text!r} is a directory")
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise SettingError(f"{setting}: {text!r}: {str(existing)!r} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SettingError(f"{setting}: {text!r}: no permission to write in {str(existing)!r}")
    return path


def parse_timeout(sources: Iterable[tuple[object, str]]) -> float:
    """The first given of ``(value, setting)`` pairs, as seconds; 0 when none is."""
    for value, setting in sources:
        if value is not None and str(value).strip():
            return parse_seconds(value, setting)
    return 0.0


def build_settings(
    *,
    concurrency_option: object | None,
    concurrency_ini: str,
    limits_ini: Iterable[str],
    per_worker_ini: Iterable[str],
    alone_fixtures_ini: Iterable[str] | None,
    timeout_sources: Iterable[tuple[object, str]] = (),
    pytest_timeout_active: bool = False,
    block_threshold_ini: str = "",
    stall_report_ini: str = "",
) -> Settings:
    """Settings from raw option and ini values; the option wins over the ini."""
    if concurrency_option is not None:
        concurrency = parse_positive_int(concurrency_option, "--asyncgroup-concurrency")
    elif concurrency_ini.strip():
        concurrency = parse_positive_int(concurrency_ini, "asyncgroup_concurrency")
    else:
        concurrency = DEFAULT_CONCURRENCY
    alone = (
        parse_names(alone_fixtures_ini, "asyncgroup_alone_fixtures")
        if alone_fixtures_ini is not None
        else frozenset(DEFAULT_ALONE_FIXTURES)
    )
    return Settings(
        concurrency=concurrency,
        limits=parse_limits(limits_ini),
        per_worker=parse_names(per_worker_ini, "asyncgroup_per_worker"),
        alone_fixtures=alone | frozenset(CAPTURE_FIXTURES),
        timeout=parse_timeout(timeout_sources),
        pytest_timeout_for_alone=pytest_timeout_active,
        block_threshold=(
            parse_seconds(block_threshold_ini, "asyncgroup_block_threshold")
            if block_threshold_ini.strip()
            else DEFAULT_BLOCK_THRESHOLD
        ),
        stall_report=(
            parse_seconds(stall_report_ini, "asyncgroup_stall_report")
            if stall_report_ini.strip()
            else DEFAULT_STALL_REPORT
        ),
    )
