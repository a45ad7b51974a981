"""The interview's part of the worker profile, built from the final state."""

from __future__ import annotations

from typing import Any

from voicedial.interview.gaps import find_gaps
from voicedial.interview.scoring import adversarial_score, confidence_score
from voicedial.interview.state import InterviewState, Outcome, sorted_jobs

__all__ = ["profile_fields"]


def _gap_entries(state: InterviewState) -> list[dict[str, Any]]:
    """Gaps on the final timeline, each with what the caller said about its pieces."""
    entries = []
    for gap in find_gaps(
        state.periods(), now_year=state.now_year, threshold_months=state.gap_threshold_months
    ):
        pieces = [
            p for p in state.probed if gap.start_year <= p.start_year and p.end_year <= gap.end_year
        ]
        explanations = list(dict.fromkeys(p.explanation for p in pieces if p.explanation))
        covered = sum(p.end_year - p.start_year for p in pieces if p.resolved)
        entries.append(
            {
                "start_year": gap.start_year,
                "end_year": gap.end_year,
                "months": gap.months,
                "explanation": "; ".join(explanations) or None,
                "resolved": covered >= gap.end_year - gap.start_year,
            }
        )
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
    """The interview's part of the worker profile.

    Without consent (declined, silent, or opted out, which withdraws it) every data field is
    empty: nothing the caller said is kept.
    """
    signal_names = [s.name for s in state.signals]
    score = adversarial_score(signal_names)
    if not state.consent_given or state.outcome is Outcome.OPTED_OUT:
        return {
            "consent_given": False,
            "name": None,
            "current_job": None,
            "employment_history": [],
            "employment_gaps": [],
            "skills": [],
            "adversarial_score": 0.0,
            "adversarial_signals": [],
            "confidence_score": 0.0,
            "turns": len(state.turns),
        }
    jobs = sorted_jobs(state)
    current = next((j for j in jobs if j.current), None)
    gaps = _gap_entries(state)
    speech = [
        t.confidence
        for t in state.turns
        if t.speaker == "caller" and t.text and t.confidence is not None
    ]
    return {
        "consent_given": True,
        "name": state.name,
        "current_job": None
        if current is None
        else {"title": current.title, "company": current.company, "start_year": current.start_year},
        "employment_history": [
            {
                "title": j.title,
                "company": j.company,
                "start_year": j.start_year,
                "end_year": j.end_year,
            }
            for j in jobs
        ],
        "employment_gaps": gaps,
        "skills": list(state.skills),
        "adversarial_score": score,
        "adversarial_signals": list(dict.fromkeys(signal_names)),
        "confidence_score": confidence_score(
            confirmed=state.confirmed,
            speech_confidences=speech,
            completeness=_completeness(state, gaps),
            adversarial=score,
        ),
        "turns": len(state.turns),
    }
