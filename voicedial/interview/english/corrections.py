"""What the caller wants changed after the read-back: "no, I started in 2012", "it's Target,
not Walmart", "my name is ..."."""

from __future__ import annotations

import re

from voicedial.interview.english.names import parse_name
from voicedial.interview.english.years import parse_years
from voicedial.interview.heard import Correction

__all__ = ["parse_correction"]

_NAME = re.compile(r"\b(?:my name is|name's|call me)\b", re.I)
_SWAPS = (
    re.compile(r"\b(?:it was|it's|it is|was)\s+(?P<new>[^,]+?),?\s+not\s+(?P<old>.+)$", re.I),
    re.compile(
        r"\bnot\s+(?P<old>[^,]+?),?\s+(?:it was|it's|it is|but|it should be)\s+(?P<new>.+)$",
        re.I,
    ),
)
_START = re.compile(r"\b(?:start|began|begin|since|from|join)", re.I)
_END = re.compile(r"\b(?:left|end|until|till|quit|finish|stopp)", re.I)


def parse_correction(text: str, *, now_year: int) -> Correction:
    """Every change the answer could mean; the flow applies the first that fits."""
    name = parse_name(text) if _NAME.search(text) else None
    old = new = None
    swap = _SWAPS[0].search(text) or _SWAPS[1].search(text)
    if swap and not re.search(r"\d", swap["new"]):
        old, new = swap["old"].strip(" ."), swap["new"].strip(" .")
    years = parse_years(text, now_year=now_year).years
    return Correction(
        name=name,
        old=old,
        new=new,
        year=years[0] if years else None,
        year_role="start" if _START.search(text) else "end" if _END.search(text) else None,
    )
