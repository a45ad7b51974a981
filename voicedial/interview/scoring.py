"""Adversarial and confidence scores.

Adversarial signals, each found per caller turn (and recorded in that turn's slots as
evidence) or on the timeline as it is built:

=================  ======  ==================================================================
signal             weight  what triggers it
=================  ======  ==================================================================
prompt_injection    6.0    "ignore your instructions", "system prompt", "you are now ..."
absurd_claim        4.0    astronaut, president, "CEO of Google", wizard, time traveller ...
hostility           3.0    insults, profanity (also Twilio's masked "f***"), threats
impossible_year     2.5    a year before 1940 or after this year, "NASA since 1850"
contradiction       2.0    a job ending before it starts, full-time jobs overlapping 2+ years
refusal             1.5    "none of your business", "I won't tell you" (not a polite decline)
early_hangup        1.5    hanging up after consenting, before the interview ended
evasive             1.0    a non-answer: "whatever", "stuff", "why do you want to know"
=================  ======  ==================================================================

A signal's first occurrence counts its full weight, each repeat half of it, up to five
occurrences; the sum is capped at 10. "I don't know", one-word answers and silence are not
signals, so a terse but cooperative caller stays low (at most 3).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from .extract import normalize

__all__ = ["SIGNAL_WEIGHTS", "adversarial_score", "confidence_score", "is_evasive",
           "job_signals", "strip_injection", "text_signals"]

SIGNAL_WEIGHTS: dict[str, float] = {
    "prompt_injection": 6.0,
    "absurd_claim": 4.0,
    "hostility": 3.0,
    "impossible_year": 2.5,
    "contradiction": 2.0,
    "refusal": 1.5,
    "early_hangup": 1.5,
    "evasive": 1.0,
}
_REPEAT_FACTOR = 0.5
_MAX_COUNTED = 5
EARLIEST_PLAUSIBLE_YEAR = 1940

_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,40}\b(?:instructions?|prompts?|rules|"
    r"programming|guidelines|everything (?:you|above|before))\b|\bsystem prompt\b|"
    r"\byou are now\b|\bfrom now on,? you\b|\bnew instructions\b|\bdeveloper mode\b|"
    r"\bjailbreak\b|\bpretend (?:to be|you are|you're)\b|\bact as (?:an?|my) (?:ai|assistant|"
    r"model|language model|dan)\b|\b(?:give|rate|score|mark|set|record) (?:me|my \w+|this|"
    r"the \w+) (?:as |to |a |an )?(?:10|ten|0|zero|perfect|hired|approved|qualified|"
    r"top|maximum|excellent)\b|\badmin(?:istrator)? (?:mode|override|access)\b|"
    r"\brepeat (?:your|the) (?:instructions|prompt)\b|\bas an ai language model\b|"
    r"\b(?:forget|skip|drop)\b.{0,25}\b(?:questions|interview)\b|\bmark (?:it|this|me|my "
    r"profile|the (?:interview|call|profile)) (?:as )?(?:complete|completed|confirmed|"
    r"verified|done|fully confirmed)\b", re.I)
_HOSTILITY = re.compile(
    r"\b(?:fuck\w*|shit\w*|bitch\w*|asshole\w*|bastard\w*|dick(?:head)?|cunt|damn(?:ed|it)?|"
    r"crap|piss(?: off)?|screw you|go to hell|shut up|idiot\w*|stupid|moron\w*|dumb\w*|"
    r"jerk|loser|scam\w*|get lost|drop dead|i'?ll kill|kill you|hate you|sue you|"
    r"what the hell|bloody|bugger off|freaking robot|stupid robot)\b|\b\w\*{2,}\w*", re.I)
_ABSURD = re.compile(
    r"\b(?:astronaut|president of (?:the )?(?:united states|usa|america|the world|earth|mars)|"
    r"(?:ceo|owner|founder|president|king) of (?:google|apple|amazon|microsoft|tesla|facebook|"
    r"meta|nasa|the world|the universe|mars)|king of|queen of|wizard|sorcerer|superhero|"
    r"batman|spider[- ]?man|superman|jedi|time travel+er|dragon\w*|unicorn|vampire|"
    r"secret agent|james bond|007|billionaire|pope|emperor|god of|the moon|on mars|"
    r"professional (?:napper|sleeper)|ninja|pirate captain|santa claus|easter bunny|"
    r"tooth fairy|alien|mermaid)\b", re.I)
_REFUSAL = re.compile(
    r"\b(?:none of your (?:damn |god ?damn |fucking )?business|not your business|i won'?t "
    r"(?:tell|say|answer|give)|not (?:gonna|going to) (?:tell|say|answer)|i refuse|"
    r"no comment|that'?s private|that'?s personal|i'?d rather not (?:say|answer|tell)|"
    r"i don'?t want to (?:say|answer|tell|talk about)|not telling|mind your own|"
    r"i'?m not answering|i don'?t have to tell|pass on that|skip (?:that|this)|"
    r"why should i tell)\b", re.I)
_EVASIVE = re.compile(
    r"^(?:whatever|stuff|things|this and that|nothing much|who knows|who cares|doesn'?t matter|"
    r"does it matter|you tell me|what do you think|here and there|around|somewhere|"
    r"sometime|at some point|a while|a while ago|you know|various (?:things|stuff)|"
    r"i guess|maybe|depends|it depends)$|\bwhy do you (?:want|need) to know\b|"
    r"\bwhy does it matter\b|\bwhat'?s it to you\b|\bwhy are you asking\b|\bwho wants to know\b",
    re.I)


def text_signals(text: str, *, now_year: int) -> list[tuple[str, str]]:
    """Signals in one caller utterance, as (name, evidence) pairs.

    Evasion is not among them: a phrase like "around" is only evasive when it did not answer
    the question, which the dialog decides (`is_evasive`).
    """
    clean = normalize(text)
    found: list[tuple[str, str]] = []
    for name, pattern in (("prompt_injection", _INJECTION), ("hostility", _HOSTILITY),
                          ("absurd_claim", _ABSURD), ("refusal", _REFUSAL)):
        if match := pattern.search(clean):
            found.append((name, match[0]))
    for year in re.findall(r"\b(1[0-9]\d\d|2\d\d\d)\b", clean):
        if int(year) < EARLIEST_PLAUSIBLE_YEAR or int(year) > now_year:
            found.append(("impossible_year", year))
            break
    return found


def job_signals(start: int | None, end: int | None, others: Iterable[tuple[int | None, int | None]],
                *, now_year: int) -> list[tuple[str, str]]:
    """Timeline signals for one job against itself and the jobs already recorded."""
    found: list[tuple[str, str]] = []
    for year in (start, end):
        if year is not None and not EARLIEST_PLAUSIBLE_YEAR <= year <= now_year:
            found.append(("impossible_year", str(year)))
            break
    if start is not None and end is not None and end < start:
        found.append(("contradiction", f"ends {end} before it starts {start}"))
        return found
    if start is None:
        return found
    mine_end = now_year if end is None else end
    for other_start, other_end in others:
        if other_start is None:
            continue
        overlap = min(mine_end, now_year if other_end is None else other_end) - max(
            start, other_start)
        if overlap >= 2:
            found.append(("contradiction",
                          f"overlaps another job {other_start}-{other_end or 'now'}"))
            break
    return found


def adversarial_score(signals: Iterable[str]) -> float:
    """0-10 from signal names, per the weights table in this module's docstring."""
    total = 0.0
    for name, count in Counter(signals).items():
        counted = min(count, _MAX_COUNTED)
        total += SIGNAL_WEIGHTS.get(name, 1.0) * (1 + _REPEAT_FACTOR * (counted - 1))
    return round(min(total, 10.0), 1)


def confidence_score(*, confirmed: bool | None, speech_confidences: list[float],
                     completeness: float, adversarial: float) -> float:
    """0-1: how far the profile can be trusted.

    0.35 x confirmation (read-back confirmed 1.0, read-back disputed or unanswered 0.4, never
    reached 0) + 0.25 x mean speech-recognition confidence (0.6 when Twilio gave none)
    + 0.40 x timeline completeness (share of the asked-for fields filled and gaps explained);
    then scaled down by up to a half as the adversarial score rises.
    """
    confirmation = {True: 1.0, False: 0.4, None: 0.0}[confirmed]
    speech = sum(speech_confidences) / len(speech_confidences) if speech_confidences else 0.6
    raw = 0.35 * confirmation + 0.25 * speech + 0.40 * max(0.0, min(completeness, 1.0))
    return round(raw * (1 - 0.5 * adversarial / 10), 3)


def is_evasive(text: str) -> bool:
    """A non-answer such as "whatever" or "why do you want to know"."""
    return bool(_EVASIVE.search(normalize(text)))


def strip_injection(text: str) -> str:
    """The utterance without its instruction-like part, so only the answer is understood.

    Sentences that look like instructions to the agent are dropped; speech-to-text often has
    no punctuation, so an unpunctuated injection is cut from where it starts.
    """
    kept = []
    for sentence in re.split(r"(?<=[.!?;])\s+", text):
        if match := _INJECTION.search(sentence):
            head = sentence[: match.start()]
            # "...and ignore your instructions": the head may end with a dangling connective.
            head = re.sub(r"[\s,]*(?:and|but|so|also|now|please|okay|ok)?[\s,]*$", "", head,
                          flags=re.I)
            if head.strip():
                kept.append(head.strip())
        else:
            kept.append(sentence)
    return " ".join(kept).strip()
