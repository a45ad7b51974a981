"""The boundary between the interview's flow and a spoken language.

A `Language` is a table: what the interviewer says (`Phrases`), how answers are read
(`Understanding`), what the adversarial score looks for (`SignalPatterns`) and how a language
model's reading is put back into words the rules read (`Restatements`). The flow modules use
nothing else of a language, so a new one is a new module or subpackage that builds a
`Language`, registered in `languages`. `dataclasses.replace` makes a variant of an existing one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from voicedial.interview.heard import Correction, GapAnswer, JobMention, YearSpan
from voicedial.interview.state import InterviewState

__all__ = [
    "Language",
    "ParseCorrection",
    "ParseGapAnswer",
    "ParseJob",
    "ParseYears",
    "Phrases",
    "Restatements",
    "SignalPatterns",
    "Understanding",
]


@dataclass(frozen=True)
class Phrases:
    """Everything the interviewer says.

    The acknowledgements (`name_heard` and the lines from `consent_given` to `move_on`) and the
    re-ask lead-ins (`not_heard`, `not_understood`) come just before the next question, so they
    end with a space; the `*_end` lines end the call.
    """

    opening: Callable[[str | None, str], str]
    """(caller_name, org_name) -> the disclosure (automated AI, may be recorded) and the request
    for consent."""
    question: Callable[[InterviewState, int], str]
    """(state, variant) -> the question for `state.asking`; variant 1 re-asks in other words.
    The read-back ("readback") summarises the state."""
    name_heard: Callable[[str], str]
    """The full name just heard -> its acknowledgement."""
    completed: Callable[[str | None], str]
    """The caller's full name (or None) -> the goodbye after a finished interview."""
    consent_given: str
    name_skipped: str
    job_heard: str
    years_heard: str
    field_skipped: str
    not_working: str
    no_more_jobs: str
    gap_heard: str
    skills_heard: str
    no_skills: str
    corrected: str
    move_on: str
    not_heard: str
    """Before re-asking after one silence."""
    not_understood: str
    """Before re-asking after an unclear answer."""
    silent_end: str
    opted_out_end: str
    stopped_end: str
    """The caller stopped the call after consenting."""
    stopped_before_consent_end: str
    declined_end: str
    out_of_time_end: str
    goodbye: str
    """The only reply once the call is over."""


class ParseJob(Protocol):
    """Reads a job title and company; `expect` is what was asked ("job", "title", "company")
    and decides how a bare answer is read."""

    def __call__(self, text: str, *, now_year: int, expect: str = "job") -> JobMention: ...


class ParseYears(Protocol):
    """Reads years, ranges, starts, ends, relative years and durations."""

    def __call__(self, text: str, *, now_year: int) -> YearSpan: ...


class ParseGapAnswer(Protocol):
    """Reads an answer to "what were you doing between A and B?"."""

    def __call__(self, text: str, *, now_year: int) -> GapAnswer: ...


class ParseCorrection(Protocol):
    """Reads what to change after the read-back."""

    def __call__(self, text: str, *, now_year: int) -> Correction: ...


@dataclass(frozen=True)
class Understanding:
    """How the caller's answers are read; every function is pure and takes speech-to-text."""

    normalize: Callable[[str], str]
    """Tidy speech-to-text (fillers, quotes, spaces); applied to every utterance first."""
    words_to_digits: Callable[[str], str]
    """Spoken numbers as digits, for the year and age checks of the score."""
    parse_yes_no: Callable[[str], bool | None]
    is_opt_out: Callable[[str], bool]
    """Do not call again: ends the call and withdraws consent."""
    is_stop: Callable[[str], bool]
    """End the call now."""
    is_dont_know: Callable[[str], bool]
    is_no_more: Callable[[str], bool]
    """Nothing (more) to tell: "none", "that's it"."""
    is_not_working: Callable[[str], bool]
    parse_name: Callable[[str], str | None]
    introduced_name: Callable[[str], str | None]
    """A name the caller volunteers while answering the consent question."""
    parse_job: ParseJob
    parse_years: ParseYears
    gap_category: Callable[[str], str | None]
    """One of `heard.GAP_CATEGORIES`, or None."""
    parse_gap_answer: ParseGapAnswer
    parse_skills: Callable[[str], list[str]]
    parse_correction: ParseCorrection


@dataclass(frozen=True)
class SignalPatterns:
    """What the adversarial score looks for in a normalized utterance; the weights and the
    arithmetic stay in `scoring`. A match's text is kept as the signal's evidence."""

    injection: re.Pattern[str]
    """Instructions to the agent; also cut from the answer before it is understood."""
    injection_lead: re.Pattern[str]
    """A dangling connective ("... and") at the end of what precedes an injection."""
    hostility: re.Pattern[str]
    absurd_claim: re.Pattern[str]
    refusal: re.Pattern[str]
    evasive: re.Pattern[str]
    """A non-answer anywhere in the utterance ("why do you want to know")."""
    evasive_clause: re.Pattern[str]
    """A whole clause that says nothing ("whatever")."""
    evasive_talk: re.Pattern[str]
    """Small talk around a clause ("you know"), ignored when judging evasion."""
    year_said: re.Pattern[str]
    """Each group: a four-digit number said as a year ("since 1850"), after `words_to_digits`."""
    year_range: re.Pattern[str]
    """Each group: one end of a range of years ("from 1700 to 1990")."""
    age: re.Pattern[str]
    """Group 1: the caller's age now ("I'm 200 years old")."""


@dataclass(frozen=True)
class Restatements:
    """A language model's reading of an answer in plain words this language's rules read."""

    yes: str
    no: str
    dont_know: str
    none: str
    """No skills."""
    name: Callable[[str], str]
    job: Callable[[str | None, str | None, int | None, int | None], str]
    """(title, company, start_year, end_year) -> a sentence; title or company is set."""
    skills: Callable[[list[str]], str]


@dataclass(frozen=True)
class Language:
    """One language of the interview, by its code ("en")."""

    code: str
    phrases: Phrases
    understanding: Understanding
    signals: SignalPatterns
    restatements: Restatements
