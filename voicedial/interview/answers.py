"""What each answer does to the interview: one handler per question (`HANDLERS`, keyed by
`InterviewState.asking`) fills slots from the language's reading of the answer.

A handler returns the acknowledgement to say before the next question, or None when the answer
was not understood (the flow then re-asks once, then `skip`s).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from voicedial.interview.heard import Correction, JobMention, YearSpan
from voicedial.interview.language import Language
from voicedial.interview.scoring import is_evasive, job_signals
from voicedial.interview.state import InterviewState, Job, Outcome, sorted_jobs

__all__ = ["HANDLERS", "Handler", "commit_draft", "skip"]

Handler = Callable[[InterviewState, Language, str, dict[str, Any]], str | None]


def commit_draft(state: InterviewState) -> None:
    """Add the draft job to the history if it names a title or company; implausible
    years and overlaps with other employers become signals on the caller's latest turn."""
    job = state.draft
    if job is None:
        return
    state.draft = None
    if job.title is None and job.company is None:
        return
    # Two spells at one employer (a re-mention, a promotion) are not overlapping jobs.
    others = [
        (j.start_year, j.end_year) for j in state.jobs if not _same_employer(j.company, job.company)
    ]
    signals = job_signals(job.start_year, job.end_year, others, now_year=state.now_year)
    caller = [i for i, t in enumerate(state.turns) if t.speaker == "caller"]
    if signals and caller:
        state.record_signals(caller[-1], signals)
    state.jobs.append(job)
    if job.current:
        state.done.append("current")


def _same_employer(a: str | None, b: str | None) -> bool:
    key_a, key_b = (re.sub(r"[^a-z0-9]+", "", (c or "").lower()) for c in (a, b))
    return bool(key_a) and key_a == key_b


def _consent(state: InterviewState, lang: Language, text: str, slots: dict[str, Any]) -> str | None:
    answer = lang.understanding.parse_yes_no(text)
    slots["consent"] = answer
    if answer is None:
        return None
    state.consent_given = answer
    if not answer:
        state.outcome = Outcome.DECLINED
        return ""
    state.done.append("consent")
    if name := lang.understanding.introduced_name(text):
        state.name = name
        state.done.append("name")
        slots["name"] = name
    return lang.phrases.consent_given


def _name(state: InterviewState, lang: Language, text: str, slots: dict[str, Any]) -> str | None:
    hear = lang.understanding
    name = hear.parse_name(text)
    if name is None:
        if hear.is_dont_know(text) or hear.parse_yes_no(text) is False:
            state.done.append("name")
            return lang.phrases.name_skipped
        return None
    state.name = name
    slots["name"] = name
    state.done.append("name")
    return lang.phrases.name_heard(name)


def _apply_years(job: Job, span: YearSpan, asked: str, now_year: int) -> bool:
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


def _job_field(
    state: InterviewState, lang: Language, text: str, slots: dict[str, Any]
) -> str | None:
    hear, says = lang.understanding, lang.phrases
    asked = state.asking
    job = state.draft if state.draft is not None else Job(current=False)
    state.draft = job
    if asked == "job" and job.current and hear.is_not_working(text):
        # Keep only the clauses that do not say "I'm not working" before looking for a job.
        rest = ", ".join(
            p for p in re.split(r"\s*[,;.]\s*", text) if p and not hear.is_not_working(p)
        )
        mention = hear.parse_job(rest, now_year=state.now_year)
        if mention.company is None or mention.title is None:
            state.draft = None
            state.no_current_job = True
            state.done.append("current")
            slots["current_job"] = None
            return says.not_working
    if asked == "job" and not job.current and hear.is_no_more(text):
        state.draft = None
        state.done.append("history")
        return says.no_more_jobs
    expect = asked if asked in ("title", "company") else "job"
    mention = hear.parse_job(text, now_year=state.now_year, expect=expect)
    if asked in ("start", "end"):
        mention = JobMention(years=hear.parse_years(text, now_year=state.now_year))
    filled = False
    if mention.title and (job.title is None or asked == "title"):
        job.title, filled = mention.title, True
    if mention.company and (job.company is None or asked == "company"):
        job.company, filled = mention.company, True
    filled = _apply_years(job, mention.years, asked, state.now_year) or filled
    slots.update({k: v for k, v in job.model_dump().items() if v not in (None, [], False)})
    if filled:
        return says.job_heard if asked in ("job", "title", "company") else says.years_heard
    if hear.is_dont_know(text) or hear.parse_yes_no(text) is False:
        skip(state, lang)
        return says.field_skipped
    return None


def _more(state: InterviewState, lang: Language, text: str, slots: dict[str, Any]) -> str | None:
    hear, says = lang.understanding, lang.phrases
    if hear.is_no_more(text):
        state.done.append("history")
        slots["no_more_jobs"] = True
        return says.no_more_jobs
    mention = hear.parse_job(text, now_year=state.now_year)
    category = hear.gap_category(text)
    if not mention.empty and not (category and mention.title is None):
        job = Job(title=mention.title, company=mention.company)
        _apply_years(job, mention.years, "job", state.now_year)
        state.draft = job
        slots.update({k: v for k, v in job.model_dump().items() if v not in (None, [], False)})
        return says.job_heard
    answer = hear.parse_yes_no(text)
    if answer is True:
        state.draft = Job()
        return ""
    if answer is False or hear.is_no_more(text) or hear.is_dont_know(text) or category:
        state.done.append("history")
        slots["no_more_jobs"] = True
        return says.no_more_jobs
    return None


def _gap(state: InterviewState, lang: Language, text: str, slots: dict[str, Any]) -> str | None:
    hear = lang.understanding
    gap = state.next_gap()
    if gap is None:
        state.done.append("gaps")
        return ""
    answer = hear.parse_gap_answer(text, now_year=state.now_year)
    if answer.job is not None:
        job = Job(title=answer.job.title, company=answer.job.company)
        _apply_years(job, answer.job.years, "job", state.now_year)
        if job.start_year is None:
            job.start_year = gap.start_year
        if job.end_year is None:
            job.end_year = gap.end_year
        state.draft = job
        commit_draft(state)
        gap.explanation, gap.resolved = "work", True
        slots["gap_job"] = job.model_dump(exclude={"skipped", "current"})
    elif answer.explanation is not None:
        gap.explanation, gap.resolved = answer.explanation, True
        slots["gap_explanation"] = answer.explanation
    elif hear.is_dont_know(text) or hear.parse_yes_no(text) is False:
        gap.resolved = False
    else:
        return None
    state.probed.append(gap)
    return lang.phrases.gap_heard


def _skills(state: InterviewState, lang: Language, text: str, slots: dict[str, Any]) -> str | None:
    hear = lang.understanding
    state.done.append("skills")
    if hear.parse_yes_no(text) is False or hear.is_dont_know(text) or is_evasive(text, lang):
        return lang.phrases.no_skills
    skills = hear.parse_skills(text)
    if hear.parse_yes_no(text) is True and not skills:
        state.done.remove("skills")
        return None
    state.skills = skills
    slots["skills"] = skills
    return lang.phrases.skills_heard


def _readback(
    state: InterviewState, lang: Language, text: str, slots: dict[str, Any]
) -> str | None:
    answer = lang.understanding.parse_yes_no(text)
    changed = _apply_correction(
        state, lang.understanding.parse_correction(text, now_year=state.now_year)
    )
    slots["confirmed"] = answer
    if changed:
        slots["correction"] = text
        state.readbacks += 1
        state.confirmed = False
        state.asking = "readback"
        return lang.phrases.corrected
    if answer is True:
        state.confirmed = True
        state.done.append("readback")
        return ""
    if answer is False:
        state.confirmed = False
        state.asking = "correction"
        return ""
    return None


def _correction(
    state: InterviewState, lang: Language, text: str, slots: dict[str, Any]
) -> str | None:
    if _apply_correction(state, lang.understanding.parse_correction(text, now_year=state.now_year)):
        slots["correction"] = text
        state.readbacks += 1
        state.asking = "readback"
        return lang.phrases.corrected
    return None


def _apply_correction(state: InterviewState, fix: Correction) -> bool:
    """Apply the first change that fits: a name, a swapped title or company, a year.
    True if one was applied."""
    if fix.name:
        state.name = fix.name
        return True
    if fix.old is not None and fix.new is not None:
        old = fix.old.lower()
        for job in state.jobs:
            for attr in ("company", "title"):
                value = getattr(job, attr)
                if value and (old in value.lower() or value.lower() in old):
                    setattr(job, attr, fix.new.lower() if attr == "title" else fix.new)
                    return True
    if fix.year is None:
        return False
    year, role = fix.year, fix.year_role
    candidates = [
        (abs(value - year), job, attr)
        for job in sorted_jobs(state)
        for attr in ("start_year", "end_year")
        if (value := getattr(job, attr)) is not None
        and value != year
        and (role is None or attr.startswith(role))
    ]
    if not candidates:
        return False
    _, job, attr = min(candidates, key=lambda c: c[0])
    setattr(job, attr, year)
    return True


def skip(state: InterviewState, lang: Language) -> str:
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
    return lang.phrases.move_on


HANDLERS: dict[str, Handler] = {
    "consent": _consent,
    "name": _name,
    "job": _job_field,
    "title": _job_field,
    "company": _job_field,
    "start": _job_field,
    "end": _job_field,
    "more": _more,
    "gap": _gap,
    "skills": _skills,
    "readback": _readback,
    "correction": _correction,
    "done": lambda state, lang, text, slots: "",
}
