"""Scripted, rule-based understanding of caller answers (speech-to-text text, no model).

Every function is pure: text in, small value out. Matching is case-insensitive, but names and
companies are sliced from the caller's own words so their casing survives. Spoken numbers are
turned into digits first ("nineteen ninety eight" -> 1998, "'09" -> 2009) so that one set of
year patterns serves every spoken form.

One module per kind of answer: `spoken` (tidying, number words), `intents` (yes/no, opt-out,
stop, "I don't know"), `years`, `names`, `jobs`, `skills` and `gap_answers`.
"""

from voicedial.interview.extract.gap_answers import GapAnswer, gap_category, parse_gap_answer
from voicedial.interview.extract.intents import (
    is_dont_know,
    is_no_more,
    is_not_working,
    is_opt_out,
    is_stop,
    parse_yes_no,
)
from voicedial.interview.extract.jobs import JobMention, parse_job
from voicedial.interview.extract.names import parse_name
from voicedial.interview.extract.skills import parse_skills
from voicedial.interview.extract.spoken import normalize, words_to_digits
from voicedial.interview.extract.years import YearSpan, parse_years

__all__ = [
    "GapAnswer",
    "JobMention",
    "YearSpan",
    "gap_category",
    "is_dont_know",
    "is_no_more",
    "is_not_working",
    "is_opt_out",
    "is_stop",
    "normalize",
    "parse_gap_answer",
    "parse_job",
    "parse_name",
    "parse_skills",
    "parse_years",
    "parse_yes_no",
    "words_to_digits",
]
