"""A language model's reading of an answer, put in the plain English the rules read."""

from __future__ import annotations

from voicedial.interview.language import Restatements

__all__ = ["RESTATEMENTS"]


def _job(title: str | None, company: str | None, start: int | None, end: int | None) -> str:
    if title and company:
        words = f"I worked as a {title} at {company}"
    elif title:
        words = f"I was a {title}"
    else:
        words = f"I worked at {company}"
    if start and end:
        words += f" from {start} to {end}"
    elif start:
        words += f" since {start}"
    return words


RESTATEMENTS = Restatements(
    yes="yes",
    no="no",
    dont_know="I don't know",
    none="none",
    name=lambda name: f"my name is {name}",
    job=_job,
    skills=", ".join,
)
