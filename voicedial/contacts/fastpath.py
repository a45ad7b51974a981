"""A vectorised path for North American numbers, derived from phonenumbers' own metadata.

Parsing a number with `phonenumbers` costs tens of microseconds; a million-row list spends most
of its import there. Almost every row of a US list is a ten-digit NANP number in one of a few
spellings, and whether such a number is valid, and which time zones it has, depends (for all
but a few prefixes) only on its first six digits (NPA-NXX). So this module:

1. compiles phonenumbers' regular expressions for every NANP region into a table over the
   1,000,000 six-digit prefixes: *invalid*, *valid with zone set z*, or *undecided* (the answer
   depends on later digits, or on patterns this analysis does not resolve);
2. recognises, column-wise and in C (pyarrow's RE2), the spellings whose parse is unambiguous
   (``2015550123``, ``(201) 555-0123``, ``1-201-555-0123``, ``+1 201.555.0123`` ...) and reads
   their ten national digits;
3. looks each row's prefix up in the table.

Everything else (undecided prefixes, other spellings, other countries, other regions) is left to
`voicedial.contacts.phones.analyse`, the reference path. The table is built by replaying, prefix by
prefix and vectorised, the exact decisions `phonenumbers` makes (the region chosen by leading
digits or validity, the number type in its order of precedence, the time-zone prefix data), in
three-valued logic so that anything the analysis cannot prove becomes *undecided*, never wrong.
`tests/test_fastpath.py` checks it against `analyse` on generated and edge-case numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers.phonemetadata import PhoneMetadata
from phonenumbers.phonenumberutil import _GEO_MOBILE_COUNTRIES
from phonenumbers.tzdata import TIMEZONE_DATA

from voicedial.contacts.phones import valid_timezone

if TYPE_CHECKING:  # typeshed describes the regex parser under its old name only
    import sre_parse
else:  # Python 3.11 moved it under `re`; importing `sre_parse` is deprecated (it warns)
    from re import _parser as sre_parse

__all__ = [
    "FAST_REGIONS",
    "INVALID",
    "UNDECIDED",
    "VALID",
    "FastResult",
    "NanpTable",
    "classify",
    "nanp_table",
]

#: Regions whose national spellings the fast path reads (others go to phonenumbers).
FAST_REGIONS = frozenset({"US", "CA"})
INVALID, VALID, UNDECIDED = 0, 1, 2

_NSN_DIGITS = 10
_PREFIX_DIGITS = 6  # NPA-NXX
_TABLE_SIZE = 10**_PREFIX_DIGITS
_NONE, _MIXED, _ALL = 0, 1, 2  # three-valued: no / some / all ten-digit completions match
_ALL_DIGITS = 0x3FF  # bit d set: digit d allowed
_UNKNOWN_ZONE = "Etc/Unknown"
# Spellings whose parse in US/CA is unambiguous: optional +1 or 1, a ten-digit NANP number
# ([2-9] first), area code optionally in parentheses, single space/dot/dash separators.
_SHAPE = (
    r"^(?:\+1[ .-]?|1[ .-]?)?(?:\([2-9][0-9]{2}\)|[2-9][0-9]{2})[ .-]?"
    r"[0-9]{3}[ .-]?[0-9]{4}$"
)
_SEPARATORS = ("+", "(", ")", " ", ".", "-")  # every non-digit that _SHAPE lets through
_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)
_GEO, _NONGEO, _UNKNOWN = 1, 2, 0


# -- regular expressions to digit-set sequences ---------------------------------------------


class _Unsupported(Exception):
    """A construct this analysis does not model; the pattern's prefixes become undecided."""


def _mask_of(items: list[tuple[Any, Any]]) -> int:
    mask = 0
    negate = False
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            if 48 <= arg <= 57:
                mask |= 1 << (arg - 48)
        elif name == "RANGE":
            lo, hi = arg
            for code in range(max(lo, 48), min(hi, 57) + 1):
                mask |= 1 << (code - 48)
        elif name == "CATEGORY" and str(arg) == "CATEGORY_DIGIT":
            mask |= _ALL_DIGITS
        elif name == "NEGATE":
            negate = True
        else:
            raise _Unsupported(name)
    return (~mask & _ALL_DIGITS) if negate else mask


def _expand(parsed: Any, limit: int) -> set[tuple[int, ...]]:
    """Every way `parsed` can match, as fixed-length sequences of digit masks (<= limit)."""
    results: set[tuple[int, ...]] = {()}
    for op, arg in parsed:
        name = str(op)
        if name == "LITERAL":
            if not 48 <= arg <= 57:
                return set()  # only digits ever reach these patterns
            options: set[tuple[int, ...]] = {(1 << (arg - 48),)}
        elif name == "IN":
            options = {(_mask_of(arg),)}
        elif name == "SUBPATTERN":
            options = _expand(arg[-1], limit)
        elif name == "BRANCH":
            options = set()
            for branch in arg[1]:
                options |= _expand(branch, limit)
        elif name in ("MAX_REPEAT", "MIN_REPEAT"):
            low, high, inner = arg
            body = _expand(inner, limit)
            options = set()
            current: set[tuple[int, ...]] = {()}
            for count in range(0, min(high, limit) + 1):
                if count >= low:
                    options |= current
                current = {a + b for a in current for b in body if len(a) + len(b) <= limit}
                if not current:
                    break
        else:
            raise _Unsupported(name)
        results = {a + b for a in results for b in options if len(a) + len(b) <= limit}
        if not results:
            return set()
    return results


def _prefix_indices(masks: tuple[int, ...]) -> np.ndarray:
    """The table indices (six-digit prefixes) whose digits fit the first masks."""
    index = np.zeros(1, dtype=np.int64)
    for position in range(_PREFIX_DIGITS):
        mask = masks[position] if position < len(masks) else _ALL_DIGITS
        digits = np.array([d for d in range(10) if mask >> d & 1], dtype=np.int64)
        index = (index[:, None] * 10 + digits[None, :]).ravel()
    return index


def _tri(pattern: str | None, *, prefix_match: bool) -> np.ndarray:
    """Three-valued match of `pattern` against ten-digit numbers, per six-digit prefix.

    Full match unless `prefix_match` (then the number need only start with a match, as
    `re.match` does for leading digits).
    """
    table = np.zeros(_TABLE_SIZE, dtype=np.int8)
    if not pattern:
        return table
    try:
        sequences = _expand(sre_parse.parse(pattern), _NSN_DIGITS)
    except (_Unsupported, re.error):
        table[:] = _MIXED
        return table
    for seq in sequences:
        if not prefix_match and len(seq) != _NSN_DIGITS:
            continue
        if any(mask == 0 for mask in seq):
            continue
        tail = seq[_PREFIX_DIGITS:]
        full = all(mask == _ALL_DIGITS for mask in tail)
        value = _ALL if full else _MIXED
        idx = _prefix_indices(seq)
        table[idx] = np.maximum(table[idx], value)  # a sequence never repeats an index
    return table


def _desc(desc: Any) -> np.ndarray:
    """`_is_number_matching_desc` for ten-digit numbers, three-valued per prefix."""
    if desc is None or not desc.national_number_pattern:
        return np.zeros(_TABLE_SIZE, dtype=np.int8)
    if desc.possible_length and _NSN_DIGITS not in desc.possible_length:
        return np.zeros(_TABLE_SIZE, dtype=np.int8)
    return _tri(desc.national_number_pattern, prefix_match=False)


def _first_all(
    conditions: Iterable[tuple[np.ndarray, int]], default: int
) -> tuple[np.ndarray, np.ndarray]:
    """The value of the first condition that holds for all completions, per prefix, and
    whether an undecided condition came before it (then the answer is undecided).

    `conditions` may be a generator: each table is used and dropped in turn, which keeps the
    build's peak memory to a few tables instead of all of them.
    """
    value = np.full(_TABLE_SIZE, default, dtype=np.int16)
    decided = np.zeros(_TABLE_SIZE, dtype=bool)
    mixed = np.zeros(_TABLE_SIZE, dtype=bool)
    for cond, result in conditions:
        open_ = ~decided
        mixed |= open_ & (cond == _MIXED)
        hit = open_ & (cond == _ALL)
        value[hit] = result
        decided |= hit
    return value, mixed


def _kind(metadata: Any, country_code: int) -> tuple[np.ndarray, np.ndarray]:
    """`_number_type_helper` reduced to unknown / geographic / not, per prefix."""

    def conditions() -> Iterator[tuple[np.ndarray, int]]:
        general = _desc(metadata.general_desc)
        yield (_ALL - general).astype(np.int8), _UNKNOWN  # not general: unknown
        del general
        for name in _TYPES:
            if name == "mobile" and metadata.same_mobile_and_fixed_line_pattern:
                continue
            geo = name == "fixed_line" or (
                name == "mobile" and country_code in _GEO_MOBILE_COUNTRIES
            )
            yield _desc(getattr(metadata, name)), _GEO if geo else _NONGEO

    kind, mixed = _first_all(conditions(), _UNKNOWN)
    return kind.astype(np.int8), mixed


@dataclass(frozen=True)
class NanpTable:
    """Per six-digit prefix: `status` (INVALID, VALID, UNDECIDED) and, when valid, an index
    into `zones` (the filtered IANA zones `phones.analyse` would give)."""

    status: np.ndarray
    zone_index: np.ndarray
    zones: tuple[tuple[str, ...], ...]

    @property
    def undecided_share(self) -> float:
        """Share of the prefixes left to phonenumbers (a health figure for tests)."""
        return float(np.mean(self.status == UNDECIDED))


def _build() -> NanpTable:
    # Which region phonenumbers picks for a prefix (the first whose leading digits, or whose
    # number types, claim every completion), and the number kind in that region. Regions are
    # taken one at a time and their tables dropped: building them all first cost 125 MB.
    decided = np.zeros(_TABLE_SIZE, dtype=bool)
    mixed = np.zeros(_TABLE_SIZE, dtype=bool)
    kind = np.full(_TABLE_SIZE, _UNKNOWN, dtype=np.int8)
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]:
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None:  # as phonenumbers does when it picks a number's region
            continue
        region_kind, region_kind_mixed = _kind(metadata, 1)
        if metadata.leading_digits is not None:
            cond = _tri(metadata.leading_digits, prefix_match=True)
        else:
            cond = np.where(
                region_kind_mixed, _MIXED, np.where(region_kind != _UNKNOWN, _ALL, _NONE)
            ).astype(np.int8)
        open_ = ~decided
        mixed |= open_ & (cond == _MIXED)
        here = open_ & (cond == _ALL)
        decided |= here
        kind[here] = region_kind[here]
        mixed |= here & region_kind_mixed
        del region_kind, region_kind_mixed, cond, open_, here

    # Zones: longest time-zone prefix of the E.164 digits for geographic types, the country's
    # list for the others (phonenumbers.timezone), then the filter `phones` applies.
    geo_zone = np.zeros(_TABLE_SIZE, dtype=np.int32)
    names: dict[tuple[str, ...], int] = {}

    def zone_id(raw: tuple[str, ...]) -> int:
        kept = tuple(z for z in raw if z != _UNKNOWN_ZONE and valid_timezone(z))
        return names.setdefault(kept, len(names))

    country = zone_id(tuple(TIMEZONE_DATA.get("1", (_UNKNOWN_ZONE,))))
    geo_zone[:] = country
    for key in sorted((k for k in TIMEZONE_DATA if k.startswith("1")), key=len):
        digits = key[1:]
        if len(digits) > _PREFIX_DIGITS:
            lo = int(digits[:_PREFIX_DIGITS])
            mixed[lo] |= kind[lo] == _GEO  # decided by later digits
            continue
        span = 10 ** (_PREFIX_DIGITS - len(digits))
        lo = int(digits or "0") * span
        geo_zone[lo : lo + span] = zone_id(tuple(TIMEZONE_DATA[key]))
    zone_index = np.where(kind == _GEO, geo_zone, country).astype(np.int32)
    status = np.where(kind == _UNKNOWN, INVALID, VALID).astype(np.int8)
    status[mixed] = UNDECIDED
    zones = tuple(sorted(names, key=names.__getitem__))
    return NanpTable(status=status, zone_index=zone_index, zones=zones)


@lru_cache(maxsize=1)
def nanp_table() -> NanpTable:
    """The table for this process (built once, in about a second)."""
    return _build()


@dataclass
class FastResult:
    """Per input row: `status` (INVALID, VALID, UNDECIDED: ask phonenumbers), the national
    number as an integer (0 unless VALID), and the zone index (into `zones`) when VALID."""

    status: np.ndarray
    national: np.ndarray
    zone_index: np.ndarray
    zones: tuple[tuple[str, ...], ...]

    def e164(self, i: int) -> str:
        """The E.164 form of valid row `i`."""
        return f"+1{self.national[i]}"


def classify(raw: pd.Series | pa.Array, region: str) -> FastResult:
    """Decide what the fast path can for each (already stripped) raw phone string.

    Rows in spellings the fast path does not read, and every row when `region` is not one of
    `FAST_REGIONS`, come back UNDECIDED.
    """
    count = len(raw)
    status = np.full(count, UNDECIDED, dtype=np.int8)
    national = np.zeros(count, dtype=np.int64)
    zone_index = np.zeros(count, dtype=np.int32)
    table = nanp_table()
    if region.upper() not in FAST_REGIONS or count == 0:
        return FastResult(status, national, zone_index, table.zones)
    text = pa.array(raw)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    text = text.cast(pa.string())
    # RE2 in C over the whole column; the pattern is anchored, so this is a full match.
    shaped = pc.match_substring_regex(text, _SHAPE).to_numpy(zero_copy_only=False)
    if not shaped.any():
        return FastResult(status, national, zone_index, table.zones)
    # A shaped spelling holds digits and these separators only; literal replaces are a few
    # times faster than one regex replace.
    digits = text.filter(pa.array(shaped))
    for separator in _SEPARATORS:
        digits = pc.replace_substring(digits, separator, "")
    numbers = pc.cast(pc.utf8_slice_codeunits(digits, -_NSN_DIGITS), pa.int64()).to_numpy()
    prefix = numbers // 10 ** (_NSN_DIGITS - _PREFIX_DIGITS)
    rows = np.flatnonzero(shaped)
    status[rows] = table.status[prefix]
    valid = rows[status[rows] == VALID]
    national[rows] = numbers
    national[status != VALID] = 0
    zone_index[valid] = table.zone_index[national[valid] // 10 ** (_NSN_DIGITS - _PREFIX_DIGITS)]
    return FastResult(status, national, zone_index, table.zones)
