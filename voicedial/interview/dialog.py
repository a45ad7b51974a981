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

Around the flow: `state` (what is known between turns), `questions` (what to say for each
question), `answers` (what each answer fills in) and `profile` (the interview's result).
"""

from __future__ import annotations

from voicedial.interview import extract as ex
from voicedial.interview.answers import HANDLERS, commit_draft, skip
from voicedial.interview.gaps import DEFAULT_GAP_THRESHOLD_MONTHS, DEFAULT_PIECE_YEARS
from voicedial.interview.profile import profile_fields
from voicedial.interview.questions import question
from voicedial.interview.scoring import WALKOUT_AFTER, is_evasive, strip_injection, text_signals
from voicedial.interview.state import (
    GapRecord,
    InterviewState,
    Job,
    Outcome,
    Reply,
    Signal,
    Turn,
    sorted_jobs,
)

__all__ = [
    "GapRecord",
    "InterviewState",
    "Job",
    "Outcome",
    "Reply",
    "Signal",
    "Turn",
    "continue_interview",
    "on_hangup",
    "profile_fields",
    "sorted_jobs",
    "start_interview",
]

MAX_JOBS = 8
MAX_READBACKS = 2
# Seconds kept in hand for the read-back when the call-time budget runs low.
READBACK_RESERVE_S = 25.0


def start_interview(
    *,
    caller_name: str | None,
    org_name: str,
    now_year: int,
    max_turns: int = 30,
    max_seconds: float = 300,
    gap_threshold_months: int = DEFAULT_GAP_THRESHOLD_MONTHS,
    gap_piece_years: int = DEFAULT_PIECE_YEARS,
) -> tuple[InterviewState, Reply]:
    """A new interview and its opening: who is calling, that it is an automated AI assistant,
    that the call may be recorded, and the request for consent."""
    state = InterviewState(
        org_name=org_name,
        caller_name=caller_name,
        now_year=now_year,
        max_turns=max_turns,
        max_seconds=max_seconds,
        gap_threshold_months=gap_threshold_months,
        gap_piece_years=gap_piece_years,
    )
    hello = f"Hello {caller_name}." if caller_name else "Hello."
    say = (
        f"{hello} This is an automated AI assistant calling on behalf of {org_name}. "
        "This call may be recorded. I'd like to ask you a few questions about your work "
        "history; it takes about three minutes. Is that okay with you?"
    )
    return state, _say(state, say, hangup=False)


def continue_interview(
    state: InterviewState,
    speech: str | None,
    confidence: float | None,
    *,
    elapsed_s: float | None = None,
    understood: str | None = None,
    understood_by: str | None = None,
) -> Reply:
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
    heard_at = len(state.turns) - 1
    if not text:
        turn.slots["silence"] = True
        state.silences += 1
        if state.silences >= 2:
            return _end(
                state,
                Outcome.STOPPED if state.consent_given else Outcome.DECLINED,
                "I'm sorry, I can't hear you, so I'll end the call here. "
                "Thank you for your time. Goodbye.",
            )
        return _budgeted(state, "Sorry, I didn't hear anything. ", variant=1)
    state.silences = 0

    signals = text_signals(text, now_year=state.now_year)
    usable = strip_injection(text)
    if usable != text:
        turn.slots["ignored_instructions"] = True
    if understood_by:
        turn.slots["understood_by"] = understood_by
    if ex.is_opt_out(usable):
        state.record_signals(heard_at, signals)
        return _end(
            state,
            Outcome.OPTED_OUT,
            "Understood. We won't call you again, and your number will be removed "
            "from our list. Sorry for the trouble. Goodbye.",
        )
    if ex.is_stop(usable) and not (state.asking == "consent" and ex.parse_yes_no(usable)):
        state.record_signals(heard_at, signals)
        if state.consent_given:
            return _end(
                state,
                Outcome.STOPPED,
                "No problem, we'll stop here. Thank you for your time. Goodbye.",
            )
        return _end(state, Outcome.DECLINED, "No problem. Thank you for your time. Goodbye.")

    handler = HANDLERS[state.asking]
    answer = understood if understood else usable
    ack = handler(state, answer, turn.slots) if answer else None
    if ack is None and is_evasive(usable):
        signals.append(("evasive", usable))
    state.record_signals(heard_at, signals)
    if state.outcome is not Outcome.IN_PROGRESS:
        return _closing(state)
    if ack is None:
        if state.reasks == 0:
            state.reasks = 1
            return _budgeted(state, "Sorry, I didn't quite catch that. ", variant=1)
        ack = skip(state)
        if state.outcome is not Outcome.IN_PROGRESS:
            return _closing(state)
    state.reasks = 0
    return _budgeted(state, ack, variant=0)


def on_hangup(state: InterviewState) -> None:
    """The caller hung up: finalize the outcome and note early hang-ups after consent."""
    if state.outcome is not Outcome.IN_PROGRESS:
        return
    if state.consent_given:
        before = sorted({s.name for s in state.signals} & WALKOUT_AFTER)
        evidence = f"caller hung up after {', '.join(before)}" if before else "caller hung up"
        state.signals.append(Signal(name="early_hangup", evidence=evidence, turn=len(state.turns)))
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


def _ask(state: InterviewState, prefix: str, *, variant: int) -> Reply:
    return _say(state, (prefix + question(state, variant)).strip(), hangup=False)


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
        return _end(
            state,
            Outcome.STOPPED,
            "We're out of time, so I'll stop here. Thank you for your help. Goodbye.",
        )
    if (
        (turns_left <= 1 or time_left <= READBACK_RESERVE_S)
        and state.asking not in ("readback", "correction", "consent")
        and (state.name or state.jobs)
    ):
        state.rushed = True
        state.draft = None
        state.done.extend(["name", "current", "history", "gaps", "skills"])
        _next_question(state)
    return _ask(state, prefix, variant=variant)


# --- what to ask next -------------------------------------------------------------------------


def _missing(job: Job) -> str | None:
    fields = [
        ("job", job.title is None and job.company is None),
        ("title", job.title is None),
        ("company", job.company is None),
        ("start", job.start_year is None),
        ("end", not job.current and job.end_year is None),
    ]
    for name, missing in fields:
        if (
            missing
            and name not in job.skipped
            and not (name == "job" and {"title", "company"} & set(job.skipped))
        ):
            return name
    return None


def _next_question(state: InterviewState) -> None:
    """Set `state.asking` from what is known; commits a finished draft job on the way."""
    if state.draft is not None:
        field = _missing(state.draft)
        if field is not None:
            state.asking = field
            return
        commit_draft(state)
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
    elif (
        "readback" not in state.done
        and state.readbacks < MAX_READBACKS
        and (state.name or state.jobs)
    ):
        state.asking = "readback"
    else:
        state.asking = "done"
