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

Around the flow: `state` (what is known between turns), `answers` (what each answer fills
in) and `profile` (the interview's result). Every word said or heard is the language's
(`language`, picked by `InterviewState.language` from `languages`).
"""

from __future__ import annotations

from voicedial.interview.answers import HANDLERS, commit_draft, skip
from voicedial.interview.gaps import DEFAULT_GAP_THRESHOLD_MONTHS, DEFAULT_PIECE_YEARS
from voicedial.interview.language import Language
from voicedial.interview.languages import get_language
from voicedial.interview.profile import profile_fields
from voicedial.interview.scoring import WALKOUT_AFTER, is_evasive, strip_injection, text_signals
from voicedial.interview.state import (
    DEFAULT_LANGUAGE,
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
    language: str = DEFAULT_LANGUAGE,
) -> tuple[InterviewState, Reply]:
    """A new interview and its opening: who is calling, that it is an automated AI assistant,
    that the call may be recorded, and the request for consent.

    `language` is a registered code (`languages`); `ConfigError` if it is not.
    """
    lang = get_language(language)
    state = InterviewState(
        org_name=org_name,
        caller_name=caller_name,
        now_year=now_year,
        language=language,
        max_turns=max_turns,
        max_seconds=max_seconds,
        gap_threshold_months=gap_threshold_months,
        gap_piece_years=gap_piece_years,
    )
    return state, _say(state, lang.phrases.opening(caller_name, org_name), hangup=False)


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
    lang = get_language(state.language)
    says, hear = lang.phrases, lang.understanding
    if state.ended():
        return Reply(say=says.goodbye, hangup=True)
    if elapsed_s is not None:
        state.elapsed_s = elapsed_s
    text = hear.normalize(speech or "")
    turn = Turn(speaker="caller", text=text, confidence=confidence)
    state.turns.append(turn)
    heard_at = len(state.turns) - 1
    if not text:
        turn.slots["silence"] = True
        state.silences += 1
        if state.silences >= 2:
            outcome = Outcome.STOPPED if state.consent_given else Outcome.DECLINED
            return _end(state, outcome, says.silent_end)
        return _budgeted(state, lang, says.not_heard, variant=1)
    state.silences = 0

    signals = text_signals(text, lang, now_year=state.now_year)
    usable = strip_injection(text, lang)
    if usable != text:
        turn.slots["ignored_instructions"] = True
    if understood_by:
        turn.slots["understood_by"] = understood_by
    if hear.is_opt_out(usable):
        state.record_signals(heard_at, signals)
        return _end(state, Outcome.OPTED_OUT, says.opted_out_end)
    if hear.is_stop(usable) and not (state.asking == "consent" and hear.parse_yes_no(usable)):
        state.record_signals(heard_at, signals)
        if state.consent_given:
            return _end(state, Outcome.STOPPED, says.stopped_end)
        return _end(state, Outcome.DECLINED, says.stopped_before_consent_end)

    handler = HANDLERS[state.asking]
    answer = understood if understood else usable
    ack = handler(state, lang, answer, turn.slots) if answer else None
    if ack is None and is_evasive(usable, lang):
        signals.append(("evasive", usable))
    state.record_signals(heard_at, signals)
    if state.ended():
        return _closing(state, lang)
    if ack is None:
        if state.reasks == 0:
            state.reasks = 1
            return _budgeted(state, lang, says.not_understood, variant=1)
        ack = skip(state, lang)
        if state.ended():
            return _closing(state, lang)
    state.reasks = 0
    return _budgeted(state, lang, ack, variant=0)


def on_hangup(state: InterviewState) -> None:
    """The caller hung up: finalize the outcome and note early hang-ups after consent."""
    if state.ended():
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


def _closing(state: InterviewState, lang: Language) -> Reply:
    """The goodbye for an outcome a handler has just set."""
    if state.outcome is Outcome.DECLINED:
        text = lang.phrases.declined_end
    else:
        text = lang.phrases.completed(state.name)
    state.asking = "done"
    return _say(state, text, hangup=True)


def _ask(state: InterviewState, lang: Language, prefix: str, *, variant: int) -> Reply:
    return _say(state, (prefix + lang.phrases.question(state, variant)).strip(), hangup=False)


def _budgeted(state: InterviewState, lang: Language, prefix: str, *, variant: int) -> Reply:
    """Ask the next question, unless the flow is over or a budget says otherwise."""
    _next_question(state)
    if state.asking == "done":
        state.outcome = Outcome.STOPPED if state.rushed else Outcome.COMPLETED
        return _closing(state, lang)
    turns_left = state.max_turns - state.caller_turns()
    time_left = state.max_seconds - state.elapsed_s
    if turns_left <= 0 or time_left <= 0:
        if state.asking in ("readback", "correction"):
            state.outcome = Outcome.STOPPED if state.rushed else Outcome.COMPLETED
            return _closing(state, lang)
        return _end(state, Outcome.STOPPED, lang.phrases.out_of_time_end)
    if (
        (turns_left <= 1 or time_left <= READBACK_RESERVE_S)
        and state.asking not in ("readback", "correction", "consent")
        and (state.name or state.jobs)
    ):
        state.rushed = True
        state.draft = None
        state.done.extend(["name", "current", "history", "gaps", "skills"])
        _next_question(state)
    return _ask(state, lang, prefix, variant=variant)


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
