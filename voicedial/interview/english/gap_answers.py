"""Answers to "What were you doing between A and B?": a job, a kind of
non-work activity, or free text."""

from __future__ import annotations

import re

from voicedial.interview.english.intents import is_dont_know
from voicedial.interview.english.jobs import parse_job
from voicedial.interview.english.spoken import normalize
from voicedial.interview.english.years import parse_years
from voicedial.interview.heard import GapAnswer

__all__ = ["gap_category", "parse_gap_answer"]

_GAP_CATEGORIES = [
    (
        "incarceration",
        r"prison|jail|incarcerat\w*|locked up|serving time|did time|doing time|"
        r"correctional|penitentiary|behind bars",
    ),
    (
        "military",
        r"army|navy|military|marines?|air force|national guard|coast guard|"
        r"deployed|enlisted|served in|in the service",
    ),
    (
        "caregiving",
        r"tak(?:e|ing|ook) care|car(?:ing|ed) for|looking after|look(?:ed)? after|"
        r"rais(?:ing|ed) (?:my|the|our) (?:kids|children|family|son|daughter)|"
        r"stay[- ]at[- ]home (?:mom|dad|mother|father|parent)|maternity|paternity|"
        r"parental leave|had (?:a baby|kids|children)|home with (?:the|my) kids|"
        r"caregiv\w*|my (?:mom|mother|dad|father|parents?|husband|wife) (?:was|got) "
        r"(?:sick|ill)",
    ),
    (
        "illness",
        r"\bsick|\bill\b|illness|injur\w*|in (?:the )?hospital|hospitali[sz]ed|surgery|"
        r"recover\w*|disab\w*|cancer|medical|health (?:issues|problems|reasons)|rehab",
    ),
    (
        "school",
        r"school|college|universit\w*|studying|studied|student|degree|training|course|"
        r"education|apprentic\w*|classes|diploma",
    ),
    (
        "unemployment",
        r"unemploy\w*|out of work|looking for (?:a )?(?:job|work)|job hunting|"
        r"laid off|between jobs|couldn'?t find (?:a )?(?:job|work)|not working|"
        r"no job|didn'?t work|wasn'?t working|job searching",
    ),
    ("travel", r"travel\w*|abroad|backpacking"),
    ("retired", r"retired|retirement"),
    ("relocation", r"mov(?:ed|ing) (?:to|across|states|countries|house)|relocat\w*"),
    ("volunteering", r"volunteer\w*"),
]


def gap_category(text: str) -> str | None:
    """The kind of non-work activity an answer names (caregiving, school, illness, ...)."""
    for name, pattern in _GAP_CATEGORIES:
        if re.search(rf"\b(?:{pattern})", text, re.I):
            return name
    return None


_WORK_VERBS = re.compile(
    r"\b(?:work(?:ed|ing)?|job|employed|as (?:a|an)|i was (?:a|an)|did (?:some )?\w+ work|"
    r"driv(?:ing|e)|drove|freelanc\w*|self[- ]employed|contract(?:ing|or)|gig)\b",
    re.I,
)


def parse_gap_answer(text: str, *, now_year: int) -> GapAnswer:
    """Classify an answer to "What were you doing between A and B?"."""
    clean = normalize(text)
    answer = GapAnswer(years=parse_years(clean, now_year=now_year))
    category = gap_category(clean)
    if _WORK_VERBS.search(clean) and category not in ("military", "incarceration", "school"):
        job = parse_job(clean, now_year=now_year)
        if re.search(r"\bself[- ]employed|freelanc\w*", clean, re.I) and job.company is None:
            job.company = "self-employed"
        if not job.empty and category != "unemployment":
            answer.job = job
            return answer
    if category:
        answer.category = category
        answer.explanation = category
        return answer
    words = re.sub(r"<Y:\d+>", "", clean).split()
    if len(words) >= 2 and not is_dont_know(clean):
        answer.explanation = clean[:120]
    return answer
