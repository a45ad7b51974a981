"""Everything the interviewer says in English, besides the questions (`questions`)."""

from __future__ import annotations

from voicedial.interview.english.questions import question
from voicedial.interview.language import Phrases

__all__ = ["PHRASES"]


def _opening(caller_name: str | None, org_name: str) -> str:
    hello = f"Hello {caller_name}." if caller_name else "Hello."
    return (
        f"{hello} This is an automated AI assistant calling on behalf of {org_name}. "
        "This call may be recorded. I'd like to ask you a few questions about your work "
        "history; it takes about three minutes. Is that okay with you?"
    )


def _name_heard(name: str) -> str:
    return f"Thank you, {name.split()[0]}. "


def _completed(name: str | None) -> str:
    thanks = f"Thank you, {name.split()[0]}." if name else "Thank you."
    return f"{thanks} That's everything I needed. Have a great day. Goodbye."


PHRASES = Phrases(
    opening=_opening,
    question=question,
    name_heard=_name_heard,
    completed=_completed,
    consent_given="Thank you. ",
    name_skipped="That's fine. ",
    job_heard="Thanks. ",
    years_heard="Got it. ",
    field_skipped="That's okay. ",
    not_working="I see. ",
    no_more_jobs="Okay. ",
    gap_heard="Thank you. ",
    skills_heard="Thanks. ",
    no_skills="Okay. ",
    corrected="Thanks, I've updated that. ",
    move_on="Let's move on. ",
    not_heard="Sorry, I didn't hear anything. ",
    not_understood="Sorry, I didn't quite catch that. ",
    silent_end="I'm sorry, I can't hear you, so I'll end the call here. "
    "Thank you for your time. Goodbye.",
    opted_out_end="Understood. We won't call you again, and your number will be removed "
    "from our list. Sorry for the trouble. Goodbye.",
    stopped_end="No problem, we'll stop here. Thank you for your time. Goodbye.",
    stopped_before_consent_end="No problem. Thank you for your time. Goodbye.",
    declined_end="No problem. Thank you for your time, and have a good day. Goodbye.",
    out_of_time_end="We're out of time, so I'll stop here. Thank you for your help. Goodbye.",
    goodbye="Goodbye.",
)
