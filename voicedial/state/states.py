"""The names a contact's life is told in: its states and the dispositions of its calls.

The Lua scripts (`lua/`) write these same names into Redis; `tests/test_states.py` checks that
every state name a script uses is one of these. The state machine itself is drawn in
docs/architecture.md.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ACTIVE_STATES",
    "FINAL_CALL_STATUSES",
    "RETRYABLE",
    "TERMINAL_STATES",
    "ContactState",
    "Disposition",
]


class Disposition(StrEnum):
    """What one call came to, for the contact (and the profile's `disposition`)."""

    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    DECLINED = "declined"
    OPTED_OUT = "opted_out"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"
    FAILED = "failed"
    INVALID = "invalid"
    DO_NOT_CALL = "do_not_call"


class ContactState(StrEnum):
    """Where a contact stands. The first five still have work; the rest are final and carry
    the name of the disposition that ended them."""

    PENDING = "pending"
    WAITING_WINDOW = "waiting_window"
    RETRY_WAIT = "retry_wait"
    DIALLING = "dialling"
    IN_CALL = "in_call"
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    DECLINED = "declined"
    OPTED_OUT = "opted_out"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"
    FAILED = "failed"
    INVALID = "invalid"
    DO_NOT_CALL = "do_not_call"

    @classmethod
    def final(cls, disposition: Disposition) -> ContactState:
        """The final state a disposition leaves a contact in when it is not retried."""
        return cls(disposition.value)


#: States with work left: the campaign is not done while a contact is in one.
ACTIVE_STATES: tuple[ContactState, ...] = (
    ContactState.PENDING,
    ContactState.WAITING_WINDOW,
    ContactState.RETRY_WAIT,
    ContactState.DIALLING,
    ContactState.IN_CALL,
)
#: Final states, in the order the live view lists them.
TERMINAL_STATES: tuple[ContactState, ...] = tuple(s for s in ContactState if s not in ACTIVE_STATES)
#: Dispositions retried after --retry-delay while attempts are left.
RETRYABLE = frozenset(
    {Disposition.NO_ANSWER, Disposition.BUSY, Disposition.FAILED, Disposition.VOICEMAIL}
)
#: Twilio CallStatus values after which a call is over.
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
