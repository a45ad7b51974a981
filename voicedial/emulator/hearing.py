"""What a caller hears: the intent of what the agent just said (consent, name, a job, earlier
jobs, a gap, skills, a read-back, goodbye) and which field of a job a question asks for, by
meaning rather than the agent's exact sentences, so a reworded script or a language model as
agent still gets sensible answers."""

from __future__ import annotations

import re

__all__ = ["NOW_HINTS", "asked_field", "classify", "last_question"]

_INTENTS: list[tuple[str, re.Pattern[str]]] = [
    (
        "consent",
        re.compile(
            r"consent|permission|record(ed|ing)|is (it|that|this) (ok|okay|al"
            r"right|fine)|do you agree|(happy|willing|okay|ok) to (continue|"
            r"proceed|go on|answer)|shall we (start|begin|continue)|may i ("
            r"continue|proceed|go ahead)|can we (start|begin|continue|proceed)"
        ),
    ),
    (
        "goodbye",
        re.compile(
            r"anything else|goodbye|\bbye\b|thank(s| you) for your time|"
            r"that'?s all|have a (good|great|nice|lovely)|we'?re (all )?done"
        ),
    ),
    (
        "confirm",
        re.compile(
            r"is (that|this|it|everything)( i (just )?read)? (right|correct|"
            r"accurate)|did i get (that|it|this) right|\bcorrect\?|\bright\?|"
            r"to confirm|confirm|read (it )?back|what should i (correct|change)|"
            r"what'?s wrong"
        ),
    ),
    (
        "gap",
        re.compile(
            r"\bgap\b|between (19|20)\d\d and|what were you doing|time off|"
            r"\bbreak\b|not working|unemploy|out of work|time away"
        ),
    ),
    (
        "skills",
        re.compile(
            r"skill|certif|licen[cs]e|qualif|good at|tools|trained|training|"
            r"languages?\b|speak any"
        ),
    ),
    (
        "previous",
        re.compile(
            r"before (that|your|then|this)|previous|prior|earlier|"
            r"(last|most recent|latest) (job|position|role|employer)|"
            r"other (jobs?|positions|roles|employers)|another (job|employer|"
            r"position)|\bpast\b|history|any (other|more)|where else|"
            r"anywhere (else|before)"
        ),
    ),
    (
        "name",
        re.compile(
            r"your name|who am i (speaking|talking)|call you|full name|"
            r"who is this|who'?s this"
        ),
    ),
    (
        "current",
        re.compile(
            r"current|right now|these days|what do you do|for a living|"
            r"work(ing)? (for|at)|employer|job|title|company|occupation|"
            r"position|role|when did you start|how long|where do you work|"
            r"employed|what year|kind of work"
        ),
    ),
]

NOW_HINTS = re.compile(
    r"\b(current(ly)?|right now|these days|at the moment|are you|do you "
    r"(do|work)|for a living)\b"
)
_FIELD_START = re.compile(
    r"\b(start|started|began|begin|join|joined|since when|how long|"
    r"first)\b"
)
_FIELD_END = re.compile(
    r"\b(leave|left|end|ended|stop|stopped|quit|finish|finished|"
    r"until when)\b"
)
_FIELD_TITLE = re.compile(
    r"\b(title|position|role|kind of work|what (do|did) you do|"
    r"occupation|job|what was that)\b"
)
_FIELD_COMPANY = re.compile(
    r"\b(company|employer|who|where|which (firm|business|place|"
    r"organi[sz]ation)|name of)\b"
)


def classify(heard: str) -> str:
    """The intent of what the agent just said: its questions decide (the most specific intent
    among them, as in "Before that, did you have another job? If so, what was the title?"),
    else the whole text."""
    text = heard.lower()
    sentences = [s for s in re.split(r"(?<=[.?!])\s+", text) if s.strip()]
    questions = [s for s in sentences if s.rstrip().endswith("?")]
    for candidates in (questions, [text]):
        for intent, pattern in _INTENTS:
            if any(pattern.search(c) for c in candidates):
                return intent
    return "other"


def last_question(heard: str) -> str:
    """The agent's questions (all of them), else everything it said, in lower case."""
    text = heard.lower()
    questions = [s for s in re.split(r"(?<=[.?!])\s+", text) if s.rstrip().endswith("?")]
    return " ".join(questions) if questions else text


def asked_field(question: str) -> str:
    """Which field of a job a question asks for: start, end, title, company or both."""
    q = question.lower()
    if _FIELD_START.search(q) and not _FIELD_END.search(q):
        return "start"
    if _FIELD_END.search(q):
        return "end"
    title, company = bool(_FIELD_TITLE.search(q)), bool(_FIELD_COMPANY.search(q))
    if company and not title:
        return "company"
    if title and not company:
        return "title"
    return "both"
