"""Spacing the collector's young collections while tests overlap (``_core/gcpause.py``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from pytest_asyncgroup._core.gcpause import YOUNG_WHILE_OVERLAPPING, SpacedCollections


@pytest.fixture(autouse=True)
def thresholds_kept() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


def test_overlapping_spaces_the_young_generation_and_alone_restores_it(
    thresholds_kept: tuple[int, int, int],
) -> None:
    spacing = SpacedCollections()
    spacing.overlapping(True)
    assert gc.get_threshold() == (YOUNG_WHILE_OVERLAPPING, *thresholds_kept[1:])
    spacing.overlapping(True)  # again: unchanged, and still restorable
    spacing.overlapping(False)
    assert gc.get_threshold() == thresholds_kept
    spacing.restore()  # nothing left to restore
    assert gc.get_threshold() == thresholds_kept


def test_thresholds_set_before_the_run_are_not_touched() -> None:
    gc.set_threshold(500, 5, 5)
    spacing = SpacedCollections()
    spacing.overlapping(True)
    assert gc.get_threshold() == (500, 5, 5)
    spacing.restore()
    assert gc.get_threshold() == (500, 5, 5)


def test_thresholds_a_test_sets_while_spaced_are_kept_after() -> None:
    spacing = SpacedCollections()
    spacing.overlapping(True)
    gc.set_threshold(123, 4, 5)  # a test's own, as it would persist in a plain run
    spacing.restore()
    assert gc.get_threshold() == (123, 4, 5)


def test_a_collector_switched_off_is_left_alone(thresholds_kept: tuple[int, int, int]) -> None:
    spacing = SpacedCollections()
    gc.disable()
    try:
        spacing.overlapping(True)
        assert gc.get_threshold() == thresholds_kept
    finally:
        gc.enable()
