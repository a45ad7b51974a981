"""What a language's understanding returns: plain values the flow reads, the same for every
language (years as numbers, gap categories as fixed codes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["GAP_CATEGORIES", "Correction", "GapAnswer", "JobMention", "YearSpan"]

# The codes a gap explanation may have; they are stored in profiles, so every language uses them.
GAP_CATEGORIES = (
    "incarceration",
    "military",
    "caregiving",
    "illness",
    "school",
    "unemployment",
    "travel",
    "retired",
    "relocation",
    "volunteering",
)


@dataclass
class YearSpan:
    """The years heard in one answer; `years` are all of them in spoken order."""

    start: int | None = None
    end: int | None = None
    years: list[int] = field(default_factory=list)
    duration: int | None = None
    ongoing: bool = False

    @property
    def empty(self) -> bool:
        """True when no year, duration or "still there" was heard."""
        return not (self.years or self.duration is not None or self.ongoing)


@dataclass
class JobMention:
    """A job as heard: title and/or company, plus any years said with it."""

    title: str | None = None
    company: str | None = None
    years: YearSpan = field(default_factory=YearSpan)

    @property
    def empty(self) -> bool:
        """True when neither a title nor a company was heard."""
        return self.title is None and self.company is None


@dataclass
class GapAnswer:
    """What the caller did during a gap: a named explanation, a job, or free text.

    `category` is one of `GAP_CATEGORIES`; `explanation` is that code or the caller's words.
    """

    category: str | None = None
    explanation: str | None = None
    job: JobMention | None = None
    years: YearSpan = field(default_factory=YearSpan)


@dataclass(frozen=True)
class Correction:
    """A change asked for after the read-back; the flow applies the first that fits.

    `name`: a new name ("my name is ..."). `old`/`new`: words to swap in a stored title or
    company ("it was Target, not Walmart"); `new` has no digits. `year`: a year to put in place
    of the nearest stored one, as a start or end year when `year_role` says which.
    """

    name: str | None = None
    old: str | None = None
    new: str | None = None
    year: int | None = None
    year_role: Literal["start", "end"] | None = None
