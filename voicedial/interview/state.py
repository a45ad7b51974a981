"""What an interview knows between turns: the transcript, the jobs and gaps collected so far,
and how it ended. `InterviewState` round-trips through JSON, so any process can take the next
turn."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from voicedial.interview.gaps import (
    DEFAULT_GAP_THRESHOLD_MONTHS,
    DEFAULT_PIECE_YEARS,
    Period,
    find_gaps,
    split_gap,
)

__all__ = [
    "DEFAULT_LANGUAGE",
    "GapRecord",
    "InterviewState",
    "Job",
    "Outcome",
    "Reply",
    "Signal",
    "Turn",
    "sorted_jobs",
]

MAX_GAP_PROBES = 6
# A code registered in `languages`; states saved before interviews had a language are English.
DEFAULT_LANGUAGE = "en"


class Outcome(StrEnum):
    """How the interview ended (or that it has not yet)."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    DECLINED = "declined"
    OPTED_OUT = "opted_out"
    STOPPED = "stopped"


class Reply(BaseModel):
    """What to say next: inside `<Gather input="speech">`, or followed by `<Hangup/>`."""

    say: str
    hangup: bool


class Turn(BaseModel):
    """One utterance of the transcript, with what was extracted from it."""

    speaker: Literal["agent", "caller"]
    text: str
    confidence: float | None = None
    slots: dict[str, Any] = Field(default_factory=dict)


class Job(BaseModel):
    """A job as collected; `current` jobs have no end year."""

    title: str | None = None
    company: str | None = None
    start_year: int | None = None
    end_year: int | None = None
    current: bool = False
    skipped: list[str] = Field(default_factory=list)


class GapRecord(BaseModel):
    """A probed gap (or piece of a long one) and what the caller said about it."""

    start_year: int
    end_year: int
    explanation: str | None = None
    resolved: bool = False


class Signal(BaseModel):
    """One adversarial signal with its evidence and the transcript index it came from."""

    name: str
    evidence: str
    turn: int


class InterviewState(BaseModel):
    """Everything the interview needs between turns; round-trips through JSON."""

    org_name: str
    caller_name: str | None = None
    now_year: int
    language: str = DEFAULT_LANGUAGE
    max_turns: int = 30
    max_seconds: float = 300.0
    gap_threshold_months: int = DEFAULT_GAP_THRESHOLD_MONTHS
    gap_piece_years: int = DEFAULT_PIECE_YEARS
    outcome: Outcome = Outcome.IN_PROGRESS
    consent_given: bool | None = None
    turns: list[Turn] = Field(default_factory=list)
    asking: str = "consent"
    reasks: int = 0
    silences: int = 0
    done: list[str] = Field(default_factory=list)
    name: str | None = None
    jobs: list[Job] = Field(default_factory=list)
    draft: Job | None = None
    no_current_job: bool = False
    probed: list[GapRecord] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)
    confirmed: bool | None = None
    readbacks: int = 0
    rushed: bool = False
    signals: list[Signal] = Field(default_factory=list)
    elapsed_s: float = 0.0

    def ended(self) -> bool:
        """True once the interview has an outcome."""
        return self.outcome is not Outcome.IN_PROGRESS

    def caller_turns(self) -> int:
        """How many times the caller has been heard (silences included)."""
        return sum(1 for t in self.turns if t.speaker == "caller")

    def periods(self) -> list[Period]:
        """Worked periods; a past job with no end year is assumed to run to the next job."""
        periods = []
        for job in self.jobs:
            if job.start_year is None:
                continue
            end = job.end_year
            if not job.current and end is None:
                later = [
                    j.start_year
                    for j in self.jobs
                    if j.start_year is not None and j.start_year > job.start_year
                ]
                end = min(later) if later else job.start_year
            periods.append(Period(job.start_year, None if job.current else end))
        return periods

    def next_gap(self) -> GapRecord | None:
        """The oldest gap piece not probed yet, or None."""
        if len(self.probed) >= MAX_GAP_PROBES:
            return None
        gaps = find_gaps(
            self.periods(), now_year=self.now_year, threshold_months=self.gap_threshold_months
        )
        for gap in gaps:
            for piece in split_gap(gap, piece_years=self.gap_piece_years):
                if not any(
                    p.start_year <= piece.start_year and piece.end_year <= p.end_year
                    for p in self.probed
                ):
                    return GapRecord(start_year=piece.start_year, end_year=piece.end_year)
        return None

    def record_signals(self, index: int, signals: list[tuple[str, str]]) -> None:
        """Keep adversarial signals heard in transcript turn `index`, on the state and the turn."""
        if not signals:
            return
        for name, evidence in signals:
            self.signals.append(Signal(name=name, evidence=evidence, turn=index))
        self.turns[index].slots.setdefault("signals", []).extend(
            {"name": n, "evidence": e} for n, e in signals
        )


def sorted_jobs(state: InterviewState) -> list[Job]:
    """Jobs newest first: current ones, then by end year and start year, unknowns last."""

    def key(job: Job) -> tuple[int, int, int]:
        end = state.now_year + 1 if job.current else (job.end_year or job.start_year or 0)
        return (int(job.current), end, job.start_year or 0)

    return sorted(state.jobs, key=key, reverse=True)
