"""English: the interview's first language, and the model for a new one.

Understanding is rule-based and pure: text in, small value out. Matching is case-insensitive,
but names and companies are sliced from the caller's own words so their casing survives.
Spoken numbers are turned into digits first ("nineteen ninety eight" -> 1998, "'09" -> 2009)
so that one set of year patterns serves every spoken form.

One module per kind of answer: `spoken` (tidying, number words), `intents` (yes/no, opt-out,
stop, "I don't know"), `years`, `names`, `jobs`, `skills`, `gap_answers` and `corrections`;
`questions` and `phrases` for what the interviewer says, `signals` for the adversarial score,
`restatements` for a language model's readings.
"""

from voicedial.interview.english.corrections import parse_correction
from voicedial.interview.english.gap_answers import gap_category, parse_gap_answer
from voicedial.interview.english.intents import (
    is_dont_know,
    is_no_more,
    is_not_working,
    is_opt_out,
    is_stop,
    parse_yes_no,
)
from voicedial.interview.english.jobs import parse_job
from voicedial.interview.english.names import introduced_name, parse_name
from voicedial.interview.english.phrases import PHRASES
from voicedial.interview.english.restatements import RESTATEMENTS
from voicedial.interview.english.signals import SIGNALS
from voicedial.interview.english.skills import parse_skills
from voicedial.interview.english.spoken import normalize, words_to_digits
from voicedial.interview.english.years import parse_years
from voicedial.interview.language import Language, Understanding

__all__ = [
    "ENGLISH",
    "gap_category",
    "introduced_name",
    "is_dont_know",
    "is_no_more",
    "is_not_working",
    "is_opt_out",
    "is_stop",
    "normalize",
    "parse_correction",
    "parse_gap_answer",
    "parse_job",
    "parse_name",
    "parse_skills",
    "parse_years",
    "parse_yes_no",
    "words_to_digits",
]

ENGLISH = Language(
    code="en",
    phrases=PHRASES,
    understanding=Understanding(
        normalize=normalize,
        words_to_digits=words_to_digits,
        parse_yes_no=parse_yes_no,
        is_opt_out=is_opt_out,
        is_stop=is_stop,
        is_dont_know=is_dont_know,
        is_no_more=is_no_more,
        is_not_working=is_not_working,
        parse_name=parse_name,
        introduced_name=introduced_name,
        parse_job=parse_job,
        parse_years=parse_years,
        gap_category=gap_category,
        parse_gap_answer=parse_gap_answer,
        parse_skills=parse_skills,
        parse_correction=parse_correction,
    ),
    signals=SIGNALS,
    restatements=RESTATEMENTS,
)
