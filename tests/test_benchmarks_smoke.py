"""Tiny versions of the benchmarks, so they cannot rot (the real ones: benchmarks/run.py)."""

from __future__ import annotations

import pytest

from benchmarks import p1_import
from benchmarks.common import sliding_max
from benchmarks.run import table


@pytest.mark.timeout(30)
def test_p1_import_small_list_is_identical_to_per_row_path() -> None:
    (result,) = p1_import.run(3_000)
    assert result.details["identical_to_per_row"] is True
    assert result.details["added"] > 2_000
    assert "P1" in table([result])


def test_sliding_window_counts() -> None:
    assert sliding_max([0.0, 0.1, 0.5, 1.0, 1.05]) == 4
