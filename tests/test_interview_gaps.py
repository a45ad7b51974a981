"""Employment gap analysis: merging, thresholds, current jobs, long gaps in pieces."""

from __future__ import annotations

from voicedial.interview.gaps import Gap, Period, find_gaps, merge_periods, split_gap

NOW = 2025


def test_long_gap_1977_to_2004() -> None:
    gaps = find_gaps([Period(1970, 1977), Period(2004, 2010)], now_year=NOW)
    assert gaps == [Gap(1977, 2004), Gap(2010, NOW)]
    assert gaps[0].months == 27 * 12


def test_overlapping_periods_merge() -> None:
    periods = [Period(2000, 2006), Period(2003, 2009), Period(2008, 2012)]
    assert merge_periods(periods, now_year=NOW) == [Period(2000, 2012)]
    assert find_gaps([*periods, Period(2012, None)], now_year=NOW) == []


def test_touching_periods_are_no_gap() -> None:
    assert find_gaps([Period(2009, 2014), Period(2014, None)], now_year=NOW) == []


def test_current_job_runs_to_now() -> None:
    assert find_gaps([Period(2015, None)], now_year=NOW) == []
    assert merge_periods([Period(2010, 2016), Period(2015, None)], now_year=NOW) == [
        Period(2010, None)
    ]


def test_gap_up_to_now_when_not_working() -> None:
    assert find_gaps([Period(2010, 2020)], now_year=NOW) == [Gap(2020, NOW)]


def test_threshold_is_strictly_more_than_twelve_months() -> None:
    periods = [Period(2005, 2010), Period(2011, 2015), Period(2017, None)]
    assert find_gaps(periods, now_year=NOW) == [Gap(2015, 2017)]
    assert find_gaps(periods, now_year=NOW, threshold_months=0) == [
        Gap(2010, 2011),
        Gap(2015, 2017),
    ]
    assert find_gaps(periods, now_year=NOW, threshold_months=24) == []


def test_order_does_not_matter_and_before_first_job_is_no_gap() -> None:
    periods = [Period(2018, None), Period(1990, 1995)]
    assert find_gaps(periods, now_year=NOW) == [Gap(1995, 2018)]


def test_invalid_periods_are_ignored() -> None:
    assert merge_periods([Period(2010, 2005)], now_year=NOW) == []


def test_split_long_gap_into_pieces() -> None:
    assert split_gap(Gap(2010, 2013)) == [Gap(2010, 2013)]
    pieces = split_gap(Gap(1977, 2004))
    assert pieces == [Gap(1977, 1986), Gap(1986, 1995), Gap(1995, 2004)]
    assert split_gap(Gap(1977, 2004), piece_years=20) == [Gap(1977, 1991), Gap(1991, 2004)]
