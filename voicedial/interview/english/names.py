"""The caller's name from an answer, or volunteered with another one."""

from __future__ import annotations

import re

from voicedial.interview.english.spoken import normalize

__all__ = ["introduced_name", "parse_name"]

_NAME_LEAD = re.compile(
    r"\b(?:my name is|my name's|name is|name's|this is|it's|it is|i'm|i am|call me|"
    r"you can call me|they call me|speaking with)\s+(.+)",
    re.I,
)
_NOT_NAME_WORDS = {
    "i",
    "a",
    "an",
    "the",
    "not",
    "no",
    "yes",
    "yeah",
    "don't",
    "know",
    "what",
    "why",
    "who",
    "you",
    "your",
    "my",
    "is",
    "it",
    "that",
    "this",
    "none",
    "business",
    "sure",
    "okay",
    "ok",
    "hello",
    "hi",
    "speaking",
    "here",
    "sorry",
    "busy",
    "fine",
    "good",
    "tell",
    "telling",
    "ignore",
    "instructions",
    "nurse",
    "driver",
    "working",
    "unemployed",
    "retired",
    "going",
    "calling",
    "doing",
    "well",
    "right",
    "correct",
    "of",
    "for",
    "at",
    "to",
    "and",
    "or",
    "please",
    "stop",
    "bye",
    "goodbye",
    "thanks",
    "thank",
    "rather",
    "say",
    "won't",
    "nope",
}


def parse_name(text: str) -> str | None:
    """The caller's name from "my name is X", "this is X", "it's X" or a bare "X"."""
    text = normalize(text)
    text = re.sub(r"^(?:yes|yeah|yep|sure|ok|okay|hi|hello|oh|well)\b[, ]*", "", text, flags=re.I)
    if match := _NAME_LEAD.search(text):
        text = match[1]
    text = re.split(r"[,.;!?]| and | but ", text)[0]
    text = re.sub(r"\b(?:speaking|here|by the way)$", "", text, flags=re.I).strip()
    words = text.split()
    if not 1 <= len(words) <= 4:
        return None
    if not all(re.fullmatch(r"[A-Za-z][A-Za-z'-]*\.?", w) for w in words):
        return None
    if any(w.lower() in _NOT_NAME_WORDS for w in words):
        return None
    return " ".join(w if w[:1].isupper() else w.capitalize() for w in words)


_INTRODUCTION = re.compile(r"my name is|this is|it's", re.I)


def introduced_name(text: str) -> str | None:
    """A name introduced in passing, as in "yes, this is Ann Lee"."""
    if not _INTRODUCTION.search(text):
        return None
    return parse_name(re.sub(r"^.*?\b(?=my name is|this is|it's)", "", text, flags=re.I))
