"""Skills, licences and certifications from an answer."""

from __future__ import annotations

import re

from voicedial.interview.english.intents import is_dont_know
from voicedial.interview.english.spoken import normalize

__all__ = ["parse_skills"]

_SKILL_PREFIX = re.compile(
    r"^(?:i have|i've got|i got|i hold|i've|i am|i'm|i can|i know|i speak|my|also|plus|"
    r"certified in|certified|licensed in|licensed|a|an|the|some|experience (?:in|with)|"
    r"trained in|good at|and|yes|yeah|sure|well|so|oh|okay|ok|let'?s see|let me think|"
    r"skills?[- ]wise:?|i'd say|i guess)\s+",
    re.I,
)
_SKILL_NOISE = re.compile(
    r"(?:yes|yeah|yep|sure|well|so|oh|okay|ok|um|uh|hmm|let'?s see|let me think|"
    r"skills?[- ]wise:?|that'?s (?:it|all)|i guess)",
    re.I,
)


def parse_skills(text: str) -> list[str]:
    """A list of skills, licences and certifications ("forklift, CDL class A and first aid")."""
    text = normalize(text)
    if re.fullmatch(
        r"(?:no|nope|none|nothing|not really|no,? (?:none|nothing|not really))"
        r"(?: really)?",
        text,
        re.I,
    ):
        return []
    skills: list[str] = []
    for raw in re.split(
        r"\s*(?:,|;|\.\s|\band\b|&|\bplus\b|\bas well as\b|\balso\b)\s*", text, flags=re.I
    ):
        item = raw.strip(" .")
        while (stripped := _SKILL_PREFIX.sub("", item)) != item:
            item = stripped
        if not item or len(item.split()) > 6 or _SKILL_NOISE.fullmatch(item):
            continue
        if is_dont_know(item) or re.fullmatch(r"(?:no|none|nothing|not really)", item, re.I):
            continue
        skills.append(item)
    return skills
