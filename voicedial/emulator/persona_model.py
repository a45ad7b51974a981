"""What a persona is: the pydantic models of one emulated callee and their work history (one
line of a personas JSON Lines file). Loading and generating personas live in `personas`."""

from __future__ import annotations

from typing import Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Answer", "Gap", "Job", "Persona", "Style"]

Answer = Literal["human", "machine", "busy", "no-answer", "failed"]
Style = Literal["cooperative", "terse", "evasive", "hostile", "prankster", "injection", "silent"]


class Job(BaseModel):
    """One job in a persona's history; `end_year` is None for the current job."""

    model_config = ConfigDict(extra="forbid")

    title: str
    company: str
    start_year: int
    end_year: int | None = None


class Gap(BaseModel):
    """A stretch without work, with the persona's explanation for it."""

    model_config = ConfigDict(extra="forbid")

    start_year: int
    end_year: int
    explanation: str


class Persona(BaseModel):
    """One emulated callee."""

    model_config = ConfigDict(extra="forbid")

    phone: str
    answer: Answer = "human"
    consent: bool = True
    name: str = "Alex Morgan"
    jobs: list[Job] = Field(default_factory=list)
    gaps: list[Gap] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)
    style: Style = "cooperative"
    hangup_after_turns: int | None = Field(default=None, ge=0)
    opt_out: bool = False

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str) -> str:
        try:
            number = phonenumbers.parse(value, "US")
        except phonenumbers.NumberParseException as exc:
            raise ValueError(f"not a phone number: {value!r}") from exc
        if not phonenumbers.is_valid_number(number):
            raise ValueError(f"not a valid phone number: {value!r}")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def jobs_newest_first(self) -> list[Job]:
        """Jobs ordered current first, then by end and start year, newest first."""
        return sorted(self.jobs, key=lambda j: (j.end_year or 10_000, j.start_year), reverse=True)
