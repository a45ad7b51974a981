"""Employment gap analysis: merge worked periods, find the stretches between them.

Years are whole years, as people say them on the phone: a job "from 2009 to 2014" covers
2009-2014, and the next job starting in 2014 *touches* it (no gap). A gap's length is
`(end_year - start_year) * 12` months. Only gaps longer than the threshold (default 12
months) count; a current job (end_year None) runs to `now_year`, and time after the last job
up to `now_year` is a gap too. Time before the first job is not (school, childhood).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

__all__ = [
    "DEFAULT_GAP_THRESHOLD_MONTHS",
    "Gap",
    "Period",
    "find_gaps",
    "merge_periods",
    "split_gap",
]

DEFAULT_GAP_THRESHOLD_MONTHS = 12
DEFAULT_PIECE_YEARS = 10


@dataclass(frozen=True)
class Period:
    """A stretch of time worked, in whole years; `end` None means ongoing."""

    start: int
    end: int | None = None

    def end_or(self, now_year: int) -> int:
        """The end year, `now_year` for an ongoing period."""
        return now_year if self.end is None else self.end


@dataclass(frozen=True)
class Gap:
    """A stretch with no work between two worked periods (or up to now)."""

    start_year: int
    end_year: int

    @property
    def months(self) -> int:
        """Length in months, whole-year arithmetic."""
        return (self.end_year - self.start_year) * 12


def merge_periods(periods: list[Period], *, now_year: int) -> list[Period]:
    """Sort and merge overlapping and touching periods; an ongoing period absorbs the rest."""
    spans = sorted(
        (p.start, p.end_or(now_year), p.end is None)
        for p in periods
        if p.start <= p.end_or(now_year)
    )
    merged: list[list[int | bool]] = []
    for start, end, ongoing in spans:
        if merged and start <= int(merged[-1][1]):
            merged[-1][1] = max(int(merged[-1][1]), end)
            merged[-1][2] = bool(merged[-1][2]) or ongoing
        else:
            merged.append([start, end, ongoing])
    return [Period(int(s), None if o else int(e)) for s, e, o in merged]


def find_gaps(
    periods: list[Period], *, now_year: int, threshold_months: int = DEFAULT_GAP_THRESHOLD_MONTHS
) -> list[Gap]:
    """Gaps longer than `threshold_months` between merged periods and from the last to now."""
    merged = merge_periods(periods, now_year=now_year)
    gaps: list[Gap] = []
    for before, after in itertools.pairwise(merged):
        gaps.append(Gap(before.end_or(now_year), after.start))
    if merged and merged[-1].end is not None and merged[-1].end < now_year:
        gaps.append(Gap(merged[-1].end, now_year))
    return [g for g in gaps if g.months > threshold_months]


def split_gap(gap: Gap, *, piece_years: int = DEFAULT_PIECE_YEARS) -> list[Gap]:
    """Cut a very long gap into pieces of about `piece_years`, oldest first, for probing."""
    years = gap.end_year - gap.start_year
    if years <= piece_years:
        return [gap]
    count = -(-years // piece_years)
    bounds = [gap.start_year + round(i * years / count) for i in range(count + 1)]
    return [Gap(a, b) for a, b in itertools.pairwise(bounds)]
