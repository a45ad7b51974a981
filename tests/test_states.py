"""The Lua scripts write contact states into Redis by name: every name they use must be one of
`ContactState`, and the Python side must not invent names the scripts do not know."""

from __future__ import annotations

import re
from importlib import resources

from voicedial.state.states import (
    ACTIVE_STATES,
    RETRYABLE,
    TERMINAL_STATES,
    ContactState,
    Disposition,
)

# Every other literal a script may hold: Redis commands and their words, hash fields, stats
# names, control values and Twilio call statuses. A new literal must be added here or to the
# enums, so a misspelt state can never slip into a script unseen.
NOT_STATES = {
    "",
    "*",
    "%.0f",
    "+inf",
    "-inf",
    "-1",
    "0",
    "1",
    "XX",
    "PX",
    "LIMIT",
    "EXISTS",
    "GET",
    "HGET",
    "HGETALL",
    "HINCRBY",
    "HMGET",
    "HSET",
    "HSETNX",
    "LPUSH",
    "LTRIM",
    "SET",
    "TIME",
    "XADD",
    "ZADD",
    "ZCOUNT",
    "ZRANGE",
    "DEL",
    "ZRANGEBYSCORE",
    "ZREM",
    "ZREMRANGEBYSCORE",
    "ZSCORE",
    "WITHSCORES",
    "answered_at",
    "attempts",
    "attempts:",
    "calls_placed",
    "claimed_at",
    "contact_id",
    "contacts",
    "control",
    "created_at",
    "disposition",
    "event",
    "events",
    "final",
    "finished_calls",
    "interview",
    "last_call_sid",
    "last_dialled_at",
    "next_due",
    "packed",
    "queue_time_ms",
    "reason",
    "seen_at",
    "seq",
    "state",
    "status",
    "turn",
    "twiml",
    "worker",
    "paused",
    "cancelled",  # campaign control values
    "queued",
    "in-progress",  # Twilio CallStatus values
}


def _lua_literals() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for script in resources.files("voicedial.state").joinpath("lua").iterdir():
        if not script.name.endswith(".lua"):
            continue
        code = "\n".join(
            line for line in script.read_text().splitlines() if not line.lstrip().startswith("--")
        )
        found[script.name] = set(re.findall(r"'([^']*)'", code))
    return found


def test_the_scripts_are_read() -> None:
    literals = _lua_literals()
    assert {"claim.lua", "finish.lua", "progress.lua"} <= literals.keys()
    assert "dialling" in literals["claim.lua"]


def test_every_state_a_script_names_is_a_contact_state() -> None:
    states = {s.value for s in ContactState}
    for name, literals in _lua_literals().items():
        for literal in literals - NOT_STATES:
            base = literal.removeprefix("attempts:")
            assert base in states, f"{name} uses {literal!r}: not a ContactState nor listed"


def test_states_and_dispositions_agree() -> None:
    assert set(ACTIVE_STATES).isdisjoint(TERMINAL_STATES)
    assert set(ACTIVE_STATES) | set(TERMINAL_STATES) == set(ContactState)
    # A call's disposition, when final, is the contact's state of the same name.
    assert {ContactState.final(d).value for d in Disposition} == {s.value for s in TERMINAL_STATES}
    assert all(ContactState.final(d) in TERMINAL_STATES for d in RETRYABLE)
    assert not {s.value for s in ContactState} & NOT_STATES
