"""Batches: which tests may overlap as far as wider fixtures' parameters go.

Tests whose class, module or session fixtures take different parameters never
overlap: pytest tears one parameter's instance down before setting up the
next. Each submitted test gets a batch number; a test whose wider parameters
differ from those seen in the current batch starts a new one, and the worker
loop starts a batch once the previous one has finished (``loop.py``, rule 1).
"""

from __future__ import annotations

import pytest

from .. import _compat


class Batches:
    """Assigns each submitted test a batch number, in submission order."""

    def __init__(self) -> None:
        self.number = 0
        self._params: dict[str, int] = {}
        self.last: dict[int, pytest.Item] = {}
        """The last test submitted in each batch."""

    def of(self, item: pytest.Item) -> int:
        params = _compat.higher_scope_params(item)
        if params and any(self._params.get(name, index) != index for name, index in params.items()):
            self.number += 1
            self._params = {}
        self._params.update(params)
        self.last[self.number] = item
        return self.number
