"""Years in an answer: single years, ranges, starts and ends, relative years and
durations, spoken or written."""

from __future__ import annotations

import re

from voicedial.interview.english.spoken import normalize, words_to_digits
from voicedial.interview.heard import YearSpan

__all__ = ["mark_years", "parse_years"]

_YEAR_CONTEXT = {
    "from",
    "since",
    "in",
    "until",
    "till",
    "til",
    "to",
    "through",
    "thru",
    "and",
    "between",
    "around",
    "about",
    "circa",
    "of",
    "-",
    "year",
    "back",
}
_RELATIVE = [
    (re.compile(r"\b(?:a|one) year ago\b|\blast year\b", re.I), 1),
    (re.compile(r"\bthis year\b", re.I), 0),
    (re.compile(r"\ba couple (?:of )?years ago\b", re.I), 2),
    (re.compile(r"\ba few years ago\b", re.I), 3),
]


def _two_digit_year(value: int, now_year: int) -> int:
    return 2000 + value if value <= now_year % 100 else 1900 + value


def mark_years(text: str, now_year: int) -> str:
    """Rewrite every year in `text` as "<Y:1998>" (digits, 'yy, two-digit years in context)."""
    text = words_to_digits(text)
    for pattern, back in _RELATIVE:
        text = pattern.sub(f"<Y:{now_year - back}>", text)
    text = re.sub(r"\b(\d{1,2}) years? ago\b", lambda m: f"<Y:{now_year - int(m[1])}>", text)
    text = re.sub(r"(?<![\d<:])\b(1[5-9]\d\d|20\d\d)\b(?!s)", r"<Y:\1>", text)
    text = re.sub(r"'(\d\d)\b", lambda m: f"<Y:{_two_digit_year(int(m[1]), now_year)}>", text)

    def two_digit(match: re.Match[str]) -> str:
        before = text[: match.start()].split()
        prev = before[-1].lower() if before else ""
        after = text[match.end() :].lstrip().lower()
        if after.startswith(("year", "yr", "month", "%", "percent", "hour", "dollar")):
            return match[0]
        if prev in _YEAR_CONTEXT or match[0].startswith("0"):
            return f"<Y:{_two_digit_year(int(match[0]), now_year)}>"
        return match[0]

    return re.sub(r"(?<![\d<:'])\b\d\d\b(?!>)", two_digit, text)


_Y = r"<Y:(\d+)>"
_RANGE = re.compile(
    rf"{_Y}\s*(?:to|until|till|til|through|thru|-|and|up to|up until)\s*"
    rf"(?:{_Y}|(now|present|today|the present|current(?:ly)?|this day))",
    re.I,
)
_START = re.compile(
    rf"\b(?:since|from|start(?:ed|ing)?|beg[au]n|beginning|join(?:ed)?|hired|got (?:there|"
    rf"hired|the job)|been there since)\b(?:\s+\w+){{0,3}}?\s+{_Y}",
    re.I,
)
_END = re.compile(
    rf"\b(?:until|till|til|through|left|end(?:ed)?|quit|finish(?:ed)?|stopped|up to|"
    rf"laid off|let go|fired|retired|moved on)\b(?:\s+\w+){{0,3}}?\s+{_Y}",
    re.I,
)
_DURATION = re.compile(r"\b(\d{1,2}|a|an) (?:and a half )?(?:years?|yrs)\b(?! ago)", re.I)
_ONGOING = re.compile(
    r"\b(?:now|present|currently|still (?:there|work|working|do|am)|to this day|today|"
    r"ongoing)\b",
    re.I,
)


def parse_years(text: str, *, now_year: int) -> YearSpan:
    """Years, ranges ("from 98 to 2004"), starts ("since 2015"), ends ("until last year"),
    relative years ("five years ago") and durations ("about five years") in one answer."""
    marked = mark_years(normalize(text), now_year)
    span = YearSpan(years=[int(y) for y in re.findall(_Y, marked)])
    if match := _RANGE.search(marked):
        span.start = int(match[1])
        if match[2]:
            span.end = int(match[2])
        else:
            span.ongoing = True
    else:
        if match := _START.search(marked):
            span.start = int(match[1])
        if match := _END.search(marked):
            span.end = int(match[1])
    if span.start is None and span.end is None and len(span.years) >= 2:
        span.start, span.end = span.years[0], span.years[1]
    if _ONGOING.search(marked):
        span.ongoing = True
    if (match := _DURATION.search(marked)) and not span.years:
        span.duration = 1 if match[1].lower() in ("a", "an") else int(match[1])
    return span
