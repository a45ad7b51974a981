"""Driving whole interviews in tests: start_interview/continue_interview until hang-up, the
state stored and restored as JSON between every turn, as the callback server does between
webhooks, so no test passes by accident through state kept in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voicedial.interview import (
    InterviewState,
    Reply,
    continue_interview,
    on_hangup,
    profile_fields,
    start_interview,
)

NOW = 2025


@dataclass
class Call:
    """The result of a driven call."""

    state: InterviewState
    replies: list[Reply] = field(default_factory=list)

    @property
    def profile(self) -> dict[str, Any]:
        return profile_fields(self.state)

    @property
    def said(self) -> list[str]:
        return [r.say for r in self.replies]


def drive(
    answers: list[str | None], *, confidence: float = 0.9, hang_up: bool = False, **options: Any
) -> Call:
    """Play `answers` until the agent hangs up (or the answers run out)."""
    state, reply = start_interview(
        caller_name="Ann", org_name="Acme Staffing", now_year=NOW, **options
    )
    call = Call(state, [reply])
    stored = state.model_dump_json()
    for answer in answers:
        if reply.hangup:
            break
        state = InterviewState.model_validate_json(stored)
        reply = continue_interview(state, answer, confidence, elapsed_s=None)
        stored = state.model_dump_json()
        assert InterviewState.model_validate_json(stored) == state
        call.replies.append(reply)
    state = InterviewState.model_validate_json(stored)
    if hang_up and not reply.hangup:
        on_hangup(state)
    call.state = state
    return call
