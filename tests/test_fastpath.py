"""The NANP fast path against the reference (`phones.analyse`): generated and edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from voicedial.contacts.fastpath import INVALID, UNDECIDED, VALID, classify, nanp_table
from voicedial.contacts.phones import analyse

_SPELLINGS = (
    "{d}",
    "({a}) {x}-{l}",
    "{a}-{x}-{l}",
    "{a}.{x}.{l}",
    "+1 {a} {x} {l}",
    "+1{d}",
    "1-{a}-{x}-{l}",
    "1 ({a}) {x}-{l}",
    "+1({a}){x}{l}",
    "1{d}",
)
_EDGE = (
    "",
    "0",
    "+",
    "+1",
    "1",
    "2015550123",
    "201555012",
    "20155501234",
    "12015550123",
    "+12015550123",
    "+1 201 555 0123",
    "(201) 555-0123",
    "(201)555-0123",
    "201 555 0123",
    "0015550123",
    "1115550123",
    "2010550123",
    "2011550123",
    "8005550123",
    "9005550123",
    "5005550123",
    "6005550123",
    "3105550123",
    "+1 242 357 1234",
    "+1 876 555 0123",
    "(201 555-0123",
    "201)-555-0123",
    "201--555-0123",
    "+44 20 7946 0958",
    "2015550123 x7",
    "1-800-FLOWERS",
    "２０１５５５０１２３",
    "+1 (201) 555 0123",
    "011 1 201 555 0123",
    "+1 201 555 01234",
    "  2015550123",
    "+1-201-555-0123",
    "1.201.555.0123",
)


def _compare(raws: list[str], region: str = "US") -> tuple[int, int]:
    """Rows decided by the fast path must equal the reference; returns (decided, total)."""
    result = classify(pd.Series(raws, dtype="str"), region)
    decided = 0
    for i, raw in enumerate(raws):
        status = result.status[i]
        if status == UNDECIDED:
            continue
        decided += 1
        got = None if status == INVALID else (result.e164(i), result.zones[result.zone_index[i]])
        assert got == analyse(raw, region), raw
    return decided, len(raws)


def test_edge_cases_match_reference() -> None:
    decided, total = _compare(list(_EDGE))
    # Most edge cases are decided by the fast path (checked against the reference above);
    # the rest are left to phonenumbers, whose answer is the reference itself.
    assert decided >= total // 3


@pytest.mark.parametrize("seed", [1, 2])
def test_random_numbers_in_every_spelling_match_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    raws = []
    for number in rng.integers(2_000_000_000, 10_000_000_000, 4_000):
        d = str(number)
        spelling = _SPELLINGS[int(number) % len(_SPELLINGS)]
        raws.append(spelling.format(d=d, a=d[:3], x=d[3:6], l=d[6:]))
    decided, total = _compare(raws)
    assert decided == total  # every such spelling is read by the fast path


def test_every_valid_area_code_matches_reference() -> None:
    table = nanp_table()
    prefixes = np.flatnonzero(table.status == VALID)
    rng = np.random.default_rng(3)
    sample = rng.choice(prefixes, 3_000, replace=False)
    raws = [f"+1{p:06d}{rng.integers(0, 10_000):04d}" for p in sample]
    decided, total = _compare(raws)
    assert decided == total


def test_table_leaves_almost_nothing_to_phonenumbers() -> None:
    assert nanp_table().undecided_share < 0.001


def test_other_regions_are_left_to_phonenumbers() -> None:
    result = classify(pd.Series(["2015550123"], dtype="str"), "GB")
    assert result.status.tolist() == [UNDECIDED]
