"""The AI phone interviewer: a deterministic dialog manager with scripted understanding.

Pure and synchronous: no I/O, no clocks (the caller passes `now_year` and `elapsed_s`). The
callback server keeps `InterviewState.model_dump_json()` between webhooks.

    state, reply = start_interview(caller_name="Ann", org_name="Acme Staffing", now_year=2025)
    reply = continue_interview(state, "sure, go ahead", 0.93, elapsed_s=6.0)
    ...until reply.hangup; then profile_fields(state)

The callback server calls the async `Interviewer` interface (`make_interviewer(agent, ...)`):
`ScriptedInterviewer` wraps the above; `OpenAIInterviewer` lets a language model understand
answers, with the scripted extractor as its per-turn fallback.

Every word said and heard belongs to the interview's `Language` (`language`), English
(`english`) unless `start_interview(language=...)` names another registered one (`languages`).
"""

from voicedial.interview.agent import (
    Interviewer,
    OpenAIInterviewer,
    ScriptedInterviewer,
    make_interviewer,
)
from voicedial.interview.dialog import (
    GapRecord,
    InterviewState,
    Job,
    Outcome,
    Reply,
    Signal,
    Turn,
    continue_interview,
    on_hangup,
    profile_fields,
    start_interview,
)
from voicedial.interview.language import Language
from voicedial.interview.languages import get_language, register_language
from voicedial.interview.scoring import SIGNAL_WEIGHTS

__all__ = [
    "SIGNAL_WEIGHTS",
    "GapRecord",
    "InterviewState",
    "Interviewer",
    "Job",
    "Language",
    "OpenAIInterviewer",
    "Outcome",
    "Reply",
    "ScriptedInterviewer",
    "Signal",
    "Turn",
    "continue_interview",
    "get_language",
    "make_interviewer",
    "on_hangup",
    "profile_fields",
    "register_language",
    "start_interview",
]
