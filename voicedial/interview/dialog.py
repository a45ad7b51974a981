"""The deterministic dialog manager: it owns the interview's flow, turn by turn.

Everything between webhooks lives in `InterviewState` (a pydantic model the callback server
stores as JSON), so any process can take the next turn. The next question is always derived
from what is known so far (`_next_question`), never from what the caller asks for: speech
only fills slots, so a prompt-injection attempt can raise the adversarial score but cannot
change what the agent does next.

Flow: disclosure + consent -> name -> current job (title, company, start year) -> earlier
jobs, newest first, until "no more" -> each significant gap, by its years -> skills ->
read-back and corrections -> goodbye. Every question is re-asked once in other words when
the answer is missing or unclear, then skipped; "I don't know" skips at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from . import extract as ex
from .gaps import DEFAULT_GAP_THRESHOLD_MONTHS, DEFAULT_PIECE_YEARS, Period, find_gaps, split_gap
from .scoring import (
    adversarial_score,
    confidence_score,
    is_evasive,
    job_signals,
    strip_injection,
    text_signals,
)

__all__ = ["GapRecord", "InterviewState", "Job", "Outcome", "Reply", "Signal", "Turn",
           "continue_interview", "on_hangup", "profile_fields", "sorted_jobs",
           "start_interview"]

MAX_JOBS = 8
MAX_GAP_PROBES = 6
MAX_READBACKS = 2
# Seconds kept in hand for the read-back when the call-time budget runs low.
READBACK_RESERVE_S = 25.0


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
                later = [j.start_year for j in self.jobs
                         if j.start_year is not None and j.start_year > job.start_year]
                end = min(later) if later else job.start_year
            periods.append(Period(job.start_year, None if job.current else end))
        return periods

    def next_gap(self) -> GapRecord | None:
        """The oldest gap piece not probed yet, or None."""
        if len(self.probed) >= MAX_GAP_PROBES:
            return None
        gaps = find_gaps(self.periods(), now_year=self.now_year,
                         threshold_months=self.gap_threshold_months)
        for gap in gaps:
            for piece in split_gap(gap, piece_years=self.gap_piece_years):
                if not any(p.start_year <= piece.start_year and piece.end_year <= p.end_year
                           for p in self.probed):
                    return GapRecord(start_year=piece.start_year, end_year=piece.end_year)
        return None


def start_interview(*, caller_name: str | None, org_name: str, now_year: int,
                    max_turns: int = 30, max_seconds: float = 300,
                    gap_threshold_months: int = DEFAULT_GAP_THRESHOLD_MONTHS,
                    gap_piece_years: int = DEFAULT_PIECE_YEARS) -> tuple[InterviewState, Reply]:
    """A new interview and its opening: who is calling, that it is an automated AI assistant,
    that the call may be recorded, and the request for consent."""
    state = InterviewState(org_name=org_name, caller_name=caller_name, now_year=now_year,
                           max_turns=max_turns, max_seconds=max_seconds,
                           gap_threshold_months=gap_threshold_months,
                           gap_piece_years=gap_piece_years)
    hello = f"Hello {caller_name}." if caller_name else "Hello."
    say = (f"{hello} This is an automated AI assistant calling on behalf of {org_name}. "
           "This call may be recorded. I'd like to ask you a few questions about your work "
           "history; it takes about three minutes. Is that okay with you?")
    return state, _say(state, say, hangup=False)


def continue_interview(state: InterviewState, speech: str | None, confidence: float | None, *,
                       elapsed_s: float | None = None, understood: str | None = None,
                       understood_by: str | None = None) -> Reply:
    """Take the caller's answer (None or "" for silence) and return what to say next.

    Mutates `state`. Always ends with `hangup=True` eventually: stop request, opt-out,
    declined consent, two silences in a row, the turn budget or the call-time budget.

    `understood` is the answer as restated by another extractor (the language model) in plain
    words the rules read reliably; it only fills slots. Signals, opt-out and stop requests are
    always judged on the caller's own words, so no extractor can change the flow.
    """
    if state.outcome is not Outcome.IN_PROGRESS:
        return Reply(say="Goodbye.", hangup=True)
    if elapsed_s is not None:
        state.elapsed_s = elapsed_s
    text = ex.normalize(speech or "")
    turn = Turn(speaker="caller", text=text, confidence=confidence)
    state.turns.append(turn)
    if not text:
        turn.slots["silence"] = True
        state.silences += 1
        if state.silences >= 2:
            return _end(state, Outcome.STOPPED if state.consent_given else Outcome.DECLINED,
                        "I'm sorry, I can't hear you, so I'll end the call here. "
                        "Thank you for your time. Goodbye.")
        return _budgeted(state, "Sorry, I didn't hear anything. ", variant=1)
    state.silences = 0

    signals = text_signals(text, now_year=state.now_year)
    usable = strip_injection(text)
    if usable != text:
        turn.slots["ignored_instructions"] = True
    if understood_by:
        turn.slots["understood_by"] = understood_by
    if ex.is_opt_out(usable):
        _record(state, turn, signals)
        return _end(state, Outcome.OPTED_OUT,
                    "Understood. We won't call you again, and your number will be removed "
                    "from our list. Sorry for the trouble. Goodbye.")
    if ex.is_stop(usable) and not (state.asking == "consent" and ex.parse_yes_no(usable)):
        _record(state, turn, signals)
        if state.consent_given:
            return _end(state, Outcome.STOPPED,
                        "No problem, we'll stop here. Thank you for your time. Goodbye.")
        return _end(state, Outcome.DECLINED, "No problem. Thank you for your time. Goodbye.")

    handler = _HANDLERS[state.asking]
    answer = understood if understood else usable
    ack = handler(state, answer, turn.slots) if answer else None
    if ack is None and is_evasive(usable):
        signals.append(("evasive", usable))
    _record(state, turn, signals)
    if state.outcome is not Outcome.IN_PROGRESS:
        return _closing(state)
    if ack is None:
        if state.reasks == 0:
            state.reasks = 1
            return _budgeted(state, "Sorry, I didn't quite catch that. ", variant=1)
        ack = _skip(state)
        if state.outcome is not Outcome.IN_PROGRESS:
            return _closing(state)
    state.reasks = 0
    return _budgeted(state, ack, variant=0)


def on_hangup(state: InterviewState) -> None:
    """The caller hung up: finalize the outcome and note early hang-ups after consent."""
    if state.outcome is not Outcome.IN_PROGRESS:
        return
    if state.consent_given:
        state.signals.append(Signal(name="early_hangup", evidence="caller hung up",
                                    turn=len(state.turns)))
        state.outcome = Outcome.STOPPED
    else:
        state.outcome = Outcome.DECLINED


# --- replies ----------------------------------------------------------------------------------

def _say(state: InterviewState, text: str, *, hangup: bool) -> Reply:
    state.turns.append(Turn(speaker="agent", text=text, slots={"asking": state.asking}))
    return Reply(say=text, hangup=hangup)


def _end(state: InterviewState, outcome: Outcome, text: str) -> Reply:
    state.outcome = outcome
    state.asking = "done"
    return _say(state, text, hangup=True)


def _closing(state: InterviewState) -> Reply:
    """The goodbye for an outcome a handler has just set."""
    if state.outcome is Outcome.DECLINED:
        text = "No problem. Thank you for your time, and have a good day. Goodbye."
    else:
        thanks = f"Thank you, {state.name.split()[0]}." if state.name else "Thank you."
        text = f"{thanks} That's everything I needed. Have a great day. Goodbye."
    state.asking = "done"
    return _say(state, text, hangup=True)


def _record(state: InterviewState, turn: Turn, signals: list[tuple[str, str]]) -> None:
    index = len(state.turns) - 1
    for name, evidence in signals:
        state.signals.append(Signal(name=name, evidence=evidence, turn=index))
    if signals:
        turn.slots.setdefault("signals", []).extend(
            {"name": n, "evidence": e} for n, e in signals)


def _ask(state: InterviewState, prefix: str, *, variant: int) -> Reply:
    return _say(state, (prefix + _question(state, variant)).strip(), hangup=False)


def _budgeted(state: InterviewState, prefix: str, *, variant: int) -> Reply:
    """Ask the next question, unless the flow is over or a budget says otherwise."""
    _next_question(state)
    if state.asking == "done":
        state.outcome = Outcome.STOPPED if state.rushed else Outcome.COMPLETED
        return _closing(state)
    turns_left = state.max_turns - state.caller_turns()
    time_left = state.max_seconds - state.elapsed_s
    if turns_left <= 0 or time_left <= 0:
        if state.asking in ("readback", "correction"):
            state.outcome = Outcome.STOPPED if state.rushed else Outcome.COMPLETED
            return _closing(state)
        return _end(state, Outcome.STOPPED,
                    "We're out of time, so I'll stop here. Thank you for your help. Goodbye.")
    if (turns_left <= 1 or time_left <= READBACK_RESERVE_S) and state.asking not in (
            "readback", "correction", "consent") and (state.name or state.jobs):
        state.rushed = True
        state.draft = None
        state.done.extend(["name", "current", "history", "gaps", "skills"])
        _next_question(state)
    return _ask(state, prefix, variant=variant)


# --- what to ask next -------------------------------------------------------------------------

def _missing(job: Job) -> str | None:
    fields = [("job", job.title is None and job.company is None), ("title", job.title is None),
              ("company", job.company is None), ("start", job.start_year is None),
              ("end", not job.current and job.end_year is None)]
    for name, missing in fields:
        if missing and name not in job.skipped and not (
                name == "job" and {"title", "company"} & set(job.skipped)):
            return name
    return None


def _next_question(state: InterviewState) -> None:
    """Set `state.asking` from what is known; commits a finished draft job on the way."""
    if state.draft is not None:
        field = _missing(state.draft)
        if field is not None:
            state.asking = field
            return
        _commit(state)
    if state.asking == "correction" and "readback" not in state.done:
        return
    if not state.consent_given:
        state.asking = "consent"
    elif "name" not in state.done:
        state.asking = "name"
    elif "current" not in state.done:
        state.draft = Job(current=True)
        state.asking = "job"
    elif "history" not in state.done and len(state.jobs) < MAX_JOBS:
        state.asking = "more"
    elif "gaps" not in state.done and state.next_gap() is not None:
        state.asking = "gap"
    elif "skills" not in state.done:
        state.asking = "skills"
    elif "readback" not in state.done and state.readbacks < MAX_READBACKS and (
            state.name or state.jobs):
        state.asking = "readback"
    else:
        state.asking = "done"


def _commit(state: InterviewState) -> None:
    job = state.draft
    if job is None:
        return
    state.draft = None
    if job.title is None and job.company is None:
        return
    others = [(j.start_year, j.end_year) for j in state.jobs]
    signals = job_signals(job.start_year, job.end_year, others, now_year=state.now_year)
    caller = [i for i, t in enumerate(state.turns) if t.speaker == "caller"]
    if signals and caller:
        _record_at(state, caller[-1], signals)
    state.jobs.append(job)
    if job.current:
        state.done.append("current")


def _record_at(state: InterviewState, index: int, signals: list[tuple[str, str]]) -> None:
    for name, evidence in signals:
        state.signals.append(Signal(name=name, evidence=evidence, turn=index))
    state.turns[index].slots.setdefault("signals", []).extend(
        {"name": n, "evidence": e} for n, e in signals)


def _job_ref(job: Job | None) -> str:
    if job is None:
        return "that job"
    if job.company:
        return f"at {job.company}"
    if job.title:
        return f"as a {job.title}"
    return "that job"


def _question(state: InterviewState, variant: int) -> str:
    """The question for `state.asking`; variant 1 says it in other words."""
    job = state.draft
    current = bool(job and job.current)
    ref = _job_ref(job)
    last = state.jobs[-1] if state.jobs else None
    gap = state.next_gap()
    options: dict[str, tuple[str, str]] = {
        "consent": ("Is it okay if I ask you a few questions about your work history?",
                    "May I go ahead with a few short questions about your work history? "
                    "Please say yes or no."),
        "name": ("To start, may I have your full name?",
                 "Could you tell me your first and last name, please?"),
        "job": ("What is your current job? Please tell me your job title and the company "
                "you work for." if current else
                "What was that job? Please tell me the job title and the company.",
                "What do you do for work right now, and who is your employer? If you're not "
                "working at the moment, just say so." if current else
                "What was your position, and which company was it with?"),
        "title": (f"What is your job title {ref}?" if current else
                  f"What was your job title {ref}?",
                  f"What kind of work do you do {ref}?" if current else
                  f"What kind of work did you do {ref}?"),
        "company": (f"Which company do you work for as a {job.title if job else 'worker'}?"
                    if current else
                    f"Which company did you work for as a {job.title if job else 'worker'}?",
                    "What's the name of your employer?" if current else
                    "What was the name of that employer?"),
        "start": (f"What year did you start working {ref}?",
                  "Roughly what year did you begin that job? An estimate is fine."),
        "end": (f"And what year did you leave your job {ref}?",
                "In what year did that job end? An estimate is fine."),
        "more": (_more_question(state, last),
                 "Did you work anywhere before that? If so, what was the job and the "
                 "company? If not, just say no."),
        "gap": (f"What were you doing between {gap.start_year} and {gap.end_year}?"
                if gap else "", f"Between {gap.start_year} and {gap.end_year} I don't have "
                "any job recorded. Were you working, studying, caring for family, or doing "
                "something else?" if gap else ""),
        "skills": ("Do you have any skills, licences or certifications you'd like to mention, "
                   "such as a driver's licence, forklift certification or first aid?",
                   "Any licences, certificates or special skills? You can say none."),
        "readback": (f"Let me read back what I have. {_summary(state)} Is that correct?",
                     "Is everything I just read correct? Please say yes, or tell me what to "
                     "change."),
        "correction": ("What should I correct?",
                       "Please tell me what's wrong, for example, I started in 2012."),
    }
    return options.get(state.asking, ("", ""))[variant]


def _more_question(state: InterviewState, last: Job | None) -> str:
    if last is None:
        return "What was your most recent job? Please tell me the job title and the company."
    return (f"Before your job {_job_ref(last)}, did you have another job? If so, "
            "what was the job title and the company? If not, just say no.")


def _years_text(job: Job) -> str:
    if job.current:
        return f", since {job.start_year}" if job.start_year else ""
    if job.start_year and job.end_year:
        return f" from {job.start_year} to {job.end_year}"
    if job.start_year:
        return f" starting in {job.start_year}"
    return f" until {job.end_year}" if job.end_year else ""


def _job_text(job: Job) -> str:
    title = f"a {job.title}" if job.title else "working"
    company = f" at {job.company}" if job.company else ""
    return f"{title}{company}{_years_text(job)}"


def _summary(state: InterviewState) -> str:
    parts = []
    if state.name:
        parts.append(f"Your name is {state.name}.")
    jobs = sorted_jobs(state)
    current = [j for j in jobs if j.current]
    past = [j for j in jobs if not j.current]
    if current:
        parts.append(f"You currently work as {_job_text(current[0])}.")
    if past:
        lead = "Before that, you worked as " if current else "You worked as "
        parts.append(lead + "; then ".join(_job_text(j) for j in past[:3]) + ".")
    if state.skills:
        parts.append(f"Your skills include {', '.join(state.skills[:4])}.")
    return " ".join(parts)


def sorted_jobs(state: InterviewState) -> list[Job]:
    """Jobs newest first: current ones, then by end year and start year, unknowns last."""
    def key(job: Job) -> tuple[int, int, int]:
        end = state.now_year + 1 if job.current else (job.end_year or job.start_year or 0)
        return (int(job.current), end, job.start_year or 0)
    return sorted(state.jobs, key=key, reverse=True)


# --- understanding answers --------------------------------------------------------------------

Handler = Callable[[InterviewState, str, dict[str, Any]], str | None]


def _consent(state: InterviewState, text: str, slots: dict[str, Any]) -> str | None:
    answer = ex.parse_yes_no(text)
    slots["consent"] = answer
    if answer is None:
        return None
    state.consent_given = answer
    if not answer:
        state.outcome = Outcome.DECLINED
        return ""
    state.done.append("consent")
    if name := ex.parse_name(re.sub(r"^.*?\b(?=my name is|this is|it's)", "", text, flags=re.I)
                             if re.search(r"my name is|this is|it's", text, re.I) else ""):
        state.name = name
        state.done.append("name")
        slots["name"] = name
    return "Thank you. "


def _name(state: InterviewState, text: str, slots: dict[str, Any]) -> str | None:
    name = ex.parse_name(text)
    if name is None:
        if ex.is_dont_know(text) or ex.parse_yes_no(text) is False:
            state.done.append("name")
            return "That's fine. "
        return None
    state.name = name
    slots["name"] = name
    state.done.append("name")
    return f"Thank you, {name.split()[0]}. "


def _apply_years(job: Job, span: ex.YearSpan, asked: str, now_year: int) -> bool:
    """Fill the job's years from what was heard; True if anything was filled."""
    before = (job.start_year, job.end_year)
    used = {y for y in (span.start, span.end) if y is not None}
    single = [y for y in span.years if y not in used]
    if span.start is not None:
        job.start_year = span.start
    if span.end is not None and not job.current:
        job.end_year = span.end
    if single:
        if asked == "end" and not job.current and job.end_year is None:
            job.end_year = single[0]
        elif job.start_year is None:
            job.start_year = single[0]
            if not job.current and len(single) > 1 and job.end_year is None:
                job.end_year = single[1]
        elif not job.current and job.end_year is None:
            job.end_year = single[0]
    if span.duration is not None:
        if job.start_year is None and job.current:
            job.start_year = now_year - span.duration
        elif job.start_year is None and job.end_year is not None:
            job.start_year = job.end_year - span.duration
        elif job.end_year is None and job.start_year is not None and not job.current:
            job.end_year = job.start_year + span.duration
    return (job.start_year, job.end_year) != before


def _job_field(state: InterviewState, text: str, slots: dict[str, Any]) -> str | None:
    asked = state.asking
    job = state.draft if state.draft is not None else Job(current=False)
    state.draft = job
    if asked == "job" and job.current and ex.is_not_working(text):
        # Keep only the clauses that do not say "I'm not working" before looking for a job.
        rest = ", ".join(p for p in re.split(r"\s*[,;.]\s*", text)
                         if p and not ex.is_not_working(p))
        mention = ex.parse_job(rest, now_year=state.now_year)
        if mention.company is None or mention.title is None:
            state.draft = None
            state.no_current_job = True
            state.done.append("current")
            slots["current_job"] = None
            return "I see. "
    if asked == "job" and not job.current and ex.is_no_more(text):
        state.draft = None
        state.done.append("history")
        return "Okay. "
    expect = asked if asked in ("title", "company") else "job"
    mention = ex.parse_job(text, now_year=state.now_year, expect=expect)
    if asked in ("start", "end"):
        mention = ex.JobMention(years=ex.parse_years(text, now_year=state.now_year))
    filled = False
    if mention.title and (job.title is None or asked == "title"):
        job.title, filled = mention.title, True
    if mention.company and (job.company is None or asked == "company"):
        job.company, filled = mention.company, True
    filled = _apply_years(job, mention.years, asked, state.now_year) or filled
    slots.update({k: v for k, v in job.model_dump().items() if v not in (None, [], False)})
    if filled:
        return "Thanks. " if asked in ("job", "title", "company") else "Got it. "
    if ex.is_dont_know(text) or ex.parse_yes_no(text) is False:
        _skip(state)
        return "That's okay. "
    return None


def _more(state: InterviewState, text: str, slots: dict[str, Any]) -> str | None:
    if ex.is_no_more(text):
        state.done.append("history")
        slots["no_more_jobs"] = True
        return "Okay. "
    mention = ex.parse_job(text, now_year=state.now_year)
    category = ex.gap_category(text)
    if not mention.empty and not (category and mention.title is None):
        job = Job(title=mention.title, company=mention.company)
        _apply_years(job, mention.years, "job", state.now_year)
        state.draft = job
        slots.update({k: v for k, v in job.model_dump().items() if v not in (None, [], False)})
        return "Thanks. "
    answer = ex.parse_yes_no(text)
    if answer is True:
        state.draft = Job()
        return ""
    if answer is False or ex.is_no_more(text) or ex.is_dont_know(text) or category:
        state.done.append("history")
        slots["no_more_jobs"] = True
        return "Okay. "
    return None


def _gap(state: InterviewState, text: str, slots: dict[str, Any]) -> str | None:
    gap = state.next_gap()
    if gap is None:
        state.done.append("gaps")
        return ""
    answer = ex.parse_gap_answer(text, now_year=state.now_year)
    if answer.job is not None:
        job = Job(title=answer.job.title, company=answer.job.company)
        _apply_years(job, answer.job.years, "job", state.now_year)
        if job.start_year is None:
            job.start_year = gap.start_year
        if job.end_year is None:
            job.end_year = gap.end_year
        state.draft = job
        _commit(state)
        gap.explanation, gap.resolved = "work", True
        slots["gap_job"] = job.model_dump(exclude={"skipped", "current"})
    elif answer.explanation is not None:
        gap.explanation, gap.resolved = answer.explanation, True
        slots["gap_explanation"] = answer.explanation
    elif ex.is_dont_know(text) or ex.parse_yes_no(text) is False:
        gap.resolved = False
    else:
        return None
    state.probed.append(gap)
    return "Thank you. "


def _skills(state: InterviewState, text: str, slots: dict[str, Any]) -> str | None:
    state.done.append("skills")
    if ex.parse_yes_no(text) is False or ex.is_dont_know(text) or is_evasive(text):
        return "Okay. "
    skills = ex.parse_skills(text)
    if ex.parse_yes_no(text) is True and not skills:
        state.done.remove("skills")
        return None
    state.skills = skills
    slots["skills"] = skills
    return "Thanks. "


def _readback(state: InterviewState, text: str, slots: dict[str, Any]) -> str | None:
    answer = ex.parse_yes_no(text)
    changed = _apply_correction(state, text)
    slots["confirmed"] = answer
    if changed:
        slots["correction"] = text
        state.readbacks += 1
        state.confirmed = False
        state.asking = "readback"
        return "Thanks, I've updated that. "
    if answer is True:
        state.confirmed = True
        state.done.append("readback")
        return ""
    if answer is False:
        state.confirmed = False
        state.asking = "correction"
        return ""
    return None


def _correction(state: InterviewState, text: str, slots: dict[str, Any]) -> str | None:
    if _apply_correction(state, text):
        slots["correction"] = text
        state.readbacks += 1
        state.asking = "readback"
        return "Thanks, I've updated that. "
    return None


def _apply_correction(state: InterviewState, text: str) -> bool:
    """Apply "no, it was 2012", "it's Target, not Walmart" or "my name is ..."; True if applied."""
    if re.search(r"\b(?:my name is|name's|call me)\b", text, re.I) and (
            name := ex.parse_name(text)):
        state.name = name
        return True
    swap = re.search(r"\b(?:it was|it's|it is|was)\s+(?P<new>[^,]+?),?\s+not\s+(?P<old>.+)$",
                     text, re.I) or re.search(
        r"\bnot\s+(?P<old>[^,]+?),?\s+(?:it was|it's|it is|but|it should be)\s+(?P<new>.+)$",
        text, re.I)
    if swap and not re.search(r"\d", swap["new"]):
        old, new = swap["old"].strip(" .").lower(), swap["new"].strip(" .")
        for job in state.jobs:
            for attr in ("company", "title"):
                value = getattr(job, attr)
                if value and (old in value.lower() or value.lower() in old):
                    setattr(job, attr, new.lower() if attr == "title" else new)
                    return True
    span = ex.parse_years(text, now_year=state.now_year)
    if not span.years:
        return False
    year = span.years[0]
    role = ("start" if re.search(r"\b(?:start|began|begin|since|from|join)", text, re.I) else
            "end" if re.search(r"\b(?:left|end|until|till|quit|finish|stopp)", text, re.I) else
            None)
    candidates = [(abs(value - year), job, attr) for job in sorted_jobs(state)
                  for attr in ("start_year", "end_year")
                  if (value := getattr(job, attr)) is not None and value != year
                  and (role is None or attr.startswith(role))]
    if not candidates:
        return False
    _, job, attr = min(candidates, key=lambda c: c[0])
    setattr(job, attr, year)
    return True


def _skip(state: InterviewState) -> str:
    """Give up on the current question (unclear twice, or "I don't know") and move on."""
    asked = state.asking
    if asked == "consent":
        state.consent_given = False
        state.outcome = Outcome.DECLINED
    elif asked in ("job", "title", "company", "start", "end") and state.draft is not None:
        state.draft.skipped.append(asked)
        if asked == "job" and state.draft.current:
            state.draft = None
            state.done.append("current")
        elif asked == "job":
            state.draft = None
            state.done.append("history")
    elif asked == "more":
        state.done.append("history")
    elif asked == "gap":
        gap = state.next_gap()
        if gap is not None:
            state.probed.append(gap)
    elif asked in ("readback", "correction") and "readback" not in state.done:
        state.done.append("readback")
    elif asked in ("name", "skills"):
        state.done.append(asked)
    return "Let's move on. "


_HANDLERS: dict[str, Handler] = {
    "consent": _consent, "name": _name, "job": _job_field, "title": _job_field,
    "company": _job_field, "start": _job_field, "end": _job_field, "more": _more,
    "gap": _gap, "skills": _skills, "readback": _readback, "correction": _correction,
    "done": lambda state, text, slots: "",
}


# --- the profile ------------------------------------------------------------------------------

def _gap_entries(state: InterviewState) -> list[dict[str, Any]]:
    """Gaps on the final timeline, each with what the caller said about its pieces."""
    entries = []
    for gap in find_gaps(state.periods(), now_year=state.now_year,
                         threshold_months=state.gap_threshold_months):
        pieces = [p for p in state.probed
                  if gap.start_year <= p.start_year and p.end_year <= gap.end_year]
        explanations = list(dict.fromkeys(p.explanation for p in pieces if p.explanation))
        covered = sum(p.end_year - p.start_year for p in pieces if p.resolved)
        entries.append({"start_year": gap.start_year, "end_year": gap.end_year,
                        "months": gap.months,
                        "explanation": "; ".join(explanations) or None,
                        "resolved": covered >= gap.end_year - gap.start_year})
    return entries


def _completeness(state: InterviewState, gaps: list[dict[str, Any]]) -> float:
    filled = [state.name is not None, bool(state.jobs) or state.no_current_job]
    for job in state.jobs:
        filled += [job.title is not None, job.company is not None, job.start_year is not None]
        if not job.current:
            filled.append(job.end_year is not None)
    filled += [bool(g["resolved"]) for g in gaps]
    return sum(filled) / len(filled)


def profile_fields(state: InterviewState) -> dict[str, Any]:
    """The interview's part of the worker profile (SPEC §8).

    Without consent (declined, silent, or opted out, which withdraws it) every data field is
    empty: nothing the caller said is kept.
    """
    signal_names = [s.name for s in state.signals]
    score = adversarial_score(signal_names)
    if not state.consent_given or state.outcome is Outcome.OPTED_OUT:
        return {"consent_given": False, "name": None, "current_job": None,
                "employment_history": [], "employment_gaps": [], "skills": [],
                "adversarial_score": 0.0, "adversarial_signals": [], "confidence_score": 0.0,
                "turns": len(state.turns)}
    jobs = sorted_jobs(state)
    current = next((j for j in jobs if j.current), None)
    gaps = _gap_entries(state)
    speech = [t.confidence for t in state.turns
              if t.speaker == "caller" and t.text and t.confidence is not None]
    return {
        "consent_given": True,
        "name": state.name,
        "current_job": None if current is None else {
            "title": current.title, "company": current.company,
            "start_year": current.start_year},
        "employment_history": [{"title": j.title, "company": j.company,
                                "start_year": j.start_year, "end_year": j.end_year}
                               for j in jobs],
        "employment_gaps": gaps,
        "skills": list(state.skills),
        "adversarial_score": score,
        "adversarial_signals": list(dict.fromkeys(signal_names)),
        "confidence_score": confidence_score(
            confirmed=state.confirmed, speech_confidences=speech,
            completeness=_completeness(state, gaps), adversarial=score),
        "turns": len(state.turns),
    }
